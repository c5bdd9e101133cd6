"""simulate on a dask cluster: the workers do the work, a lost worker's chunks are re-run
elsewhere, and the result is the local one byte for byte."""

import os
import signal
import threading

import pytest

from mscstats.plan import template
from mscstats.simulation.engine import simulate

KEY = "refractory-hypoxia"
ARGS = dict(analyses=["primary"], seed=2)
SIMS = 4000       # 160 chunks in 8 groups on 2 workers: long enough to lose a worker mid-run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as running:
        yield running


def test_the_workers_do_the_work(cluster):
    import time

    from distributed import Client
    sap = template(KEY)
    with Client(cluster) as client:
        before = client.run(time.process_time)
        remote = simulate(KEY, sap, [60], SIMS, scheduler=cluster.scheduler_address, **ARGS)
        after = client.run(time.process_time)
    worked = [after[w] - before[w] for w in after if w in before]
    # every worker computed chunks (the client only sends the SAP and gathers the rows)
    assert len(worked) == 2 and min(worked) > 0.2, worked
    assert remote.to_json() == simulate(KEY, sap, [60], SIMS, **ARGS).to_json()


def test_a_killed_worker_s_chunks_run_elsewhere(cluster):
    from distributed import Client
    sap = template(KEY)
    with Client(cluster) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed = threading.Event()

    def progress(done, total):
        if done and not killed.is_set():       # mid-run: some chunks are done, most are not
            os.kill(victim, signal.SIGKILL)
            killed.set()

    remote = simulate(KEY, sap, [60], SIMS, scheduler=cluster.scheduler_address,
                      progress=progress, **ARGS)
    assert killed.is_set()
    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=30)
        assert victim not in client.run(os.getpid).values()   # the nanny started a new one
    assert remote.to_json() == simulate(KEY, sap, [60], SIMS, **ARGS).to_json()
