"""Where the commands write (mscstats/output.py, docs/cli.md "Outputs").

No harm outside the project: a device, a FIFO or a symlink named by -o is never
replaced by a regular file. Output hygiene: a directory that cannot be written is
a message before the work; a failing write is a message with nothing left behind;
temporary files are removed on SIGTERM and, when a process was killed, by the
next run; an output keeps its mode; synth writes all of a trial or nothing.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from mscstats import output
from mscstats.cli import main

TOY = Path(__file__).parent / "data" / "toy"
SAP = str(TOY / "sap.toml")
ROOT = Path(__file__).parents[1]


def _analyze(out) -> object:
    return CliRunner().invoke(main, ["analyze", str(TOY), "--sap", SAP, "-o", str(out)])


def _clean(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if output.TMP_MARK in p.name)


@pytest.fixture(scope="module")
def expected_json(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("plain") / "results.json"
    result = _analyze(out)
    assert result.exit_code == 0, result.output
    return out.read_bytes()


# --------------------------------------------------------------------------
# Devices, FIFOs, symlinks, standard output
# --------------------------------------------------------------------------

def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path, expected_json):
    fifo = tmp_path / "results.json"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = _analyze(fifo)
    reader.join(timeout=60)
    _clean(result)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received == [expected_json]
    assert "wrote 2 analyses" in result.stderr and "wrote" not in result.stdout


def test_a_symlink_keeps_its_link_and_its_target_is_written(tmp_path, expected_json):
    target = tmp_path / "real" / "results.json"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = _analyze(link)
    _clean(result)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == expected_json
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _leftovers(tmp_path) == [] and _leftovers(target.parent) == []


def test_a_dangling_symlink_gets_its_target_written(tmp_path, expected_json):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "new.json")
    result = _analyze(link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and (tmp_path / "new.json").read_bytes() == expected_json


def test_a_character_device_is_written_through(tmp_path):
    """A /dev/null of our own (mknod needs root): still a character device after."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as err:
        pytest.skip(f"cannot make a device node here: {err}")
    result = _analyze(null)
    _clean(result)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def _in_private_namespace(script: str) -> subprocess.CompletedProcess:
    """Run a shell script in a private mount namespace (unshare -m, as root): what it
    mounts, and whatever it does to /dev there, never reaches the machine."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.decode()}")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True,
                          text=True, env=env, timeout=300)


def test_dev_null_stays_a_character_device_and_dev_stdout_a_link(expected_json):
    """`analyze -o /dev/null` and `-o /dev/stdout` as root, on a /dev mounted in a
    private namespace (a tmpfs over /dev there), so a regression cannot replace the
    machine's."""
    script = (f"mount -t tmpfs tmpfs /dev && mknod /dev/null c 1 3 && chmod 666 /dev/null\n"
              "ln -s /proc/self/fd/1 /dev/stdout\n"
              f"{sys.executable} -m mscstats analyze {TOY} --sap {SAP} -o /dev/null\n"
              f"{sys.executable} -m mscstats analyze {TOY} --sap {SAP} -o /dev/stdout "
              "2>/dev/null | wc -c\n"
              "stat -c %F /dev/null /dev/stdout\nls -a /dev\n")
    done = _in_private_namespace(script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [str(len(expected_json)), "character special file", "symbolic link"]
    assert [name for name in lines[3:] if name not in (".", "..")] == ["null", "stdout"]
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("command", ["analyze", "derive"])
def test_dash_writes_to_standard_output(command, expected_json, tmp_path):
    before = sorted(os.listdir(tmp_path))
    result = CliRunner().invoke(main, [command, str(TOY), "--sap", SAP, "-o", "-"])
    _clean(result)
    assert result.exit_code == 0, result.output
    if command == "analyze":
        assert result.stdout_bytes == expected_json
    else:
        assert result.stdout.startswith("USUBJID,ARM,ENDPOINT,DAY")
    assert "wrote" in result.stderr
    assert not Path("-").exists() and sorted(os.listdir(tmp_path)) == before


def test_simulate_and_report_write_to_standard_output():
    sim = CliRunner().invoke(main, ["simulate", "--design", "refractory-hypoxia", "--n-sims",
                                    "3", "--analyses", "primary", "-o", "-"])
    _clean(sim)
    assert sim.exit_code == 0, sim.output
    assert json.loads(sim.stdout)["results"][0]["n_sims"] == 3
    report = CliRunner().invoke(main, ["report", str(TOY), "--sap", SAP, "-o", "-"])
    _clean(report)
    assert report.exit_code == 0, report.output
    assert report.stdout_bytes.startswith(b"%PDF-") and b"wrote" not in report.stdout_bytes


def test_a_directory_block_device_or_socket_is_refused(tmp_path):
    sock_path = tmp_path / "s.json"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        result = _analyze(sock_path)
    finally:
        server.close()
    _clean(result)
    assert result.exit_code == 2 and "is a socket" in result.output and "Fix:" in result.output
    assert "analysis " not in result.output                 # refused before the work
    loop = Path("/dev/loop0")
    if loop.exists() and stat.S_ISBLK(loop.stat().st_mode):
        result = _analyze(loop)
        assert result.exit_code == 2 and "is a block device" in result.output
        assert stat.S_ISBLK(loop.stat().st_mode)


# --------------------------------------------------------------------------
# Directories, failures, temporary files, modes
# --------------------------------------------------------------------------

def test_a_missing_parent_directory_is_refused_before_the_work(tmp_path):
    result = _analyze(tmp_path / "no" / "such" / "results.json")
    _clean(result)
    assert result.exit_code == 2, result.output
    assert "the directory" in result.output and "does not exist" in result.output
    assert "mkdir -p" in result.output and "analysis " not in result.output
    assert list(tmp_path.iterdir()) == []


def test_read_only_and_full_file_systems_are_messages():
    """Real ones, in a private mount namespace: a read-only tmpfs is found before the
    work (exit 1, no analysis run); a 4 KiB tmpfs fills up during the write (exit 1,
    nothing left behind)."""
    script = (f"mkdir -p /mnt/ro /mnt/full && mount -t tmpfs -o ro tmpfs /mnt/ro && "
              f"mount -t tmpfs -o size=4k tmpfs /mnt/full\n"
              f"set +e\n"
              f"{sys.executable} -m mscstats analyze {TOY} --sap {SAP} -o /mnt/ro/r.json "
              f"2>&1; echo rc=$?\n"
              f"{sys.executable} -m mscstats analyze {TOY} --sap {SAP} -o /mnt/full/r.json "
              f"2>&1; echo rc=$?\n"
              f"{sys.executable} -m mscstats synth refractory-hypoxia -o /mnt/full/trial "
              f"2>&1; echo rc=$?\nls -a /mnt/full\n")
    done = _in_private_namespace(script)
    out = done.stdout
    assert "Traceback" not in out, out
    ro, full, synth, listing = out.split("rc=")[0], out.split("rc=")[1], out.split("rc=")[2], \
        out.split("rc=")[3]
    assert "error: /mnt/ro/r.json: cannot write in /mnt/ro (Read-only file system)" in ro
    assert "analysis " not in ro and full.startswith("1\n")
    assert "error: /mnt/full/r.json: could not be written (No space left on device)" in full
    assert "Fix: free disk space" in full and synth.startswith("1\n")
    assert "No space left on device" in synth
    assert listing.split("\n")[1:] == [".", "..", ""], listing     # nothing half-written


def test_a_failing_write_is_a_message_and_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def disk_full(fd, data):
        calls.append(fd)
        os.write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output, "_write_all", disk_full)
    old = tmp_path / "results.json"
    old.write_text("previous results")
    result = _analyze(old)
    _clean(result)
    assert calls and result.exit_code == 1
    assert "results.json: could not be written (No space left on device)" in result.output
    assert "Fix: free disk space" in result.output
    assert old.read_text() == "previous results"               # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_failing_rename_is_a_message_and_leaves_nothing(tmp_path, monkeypatch):
    def cannot_rename(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(output.os, "replace", cannot_rename)
    result = _analyze(tmp_path / "results.json")
    _clean(result)
    assert result.exit_code == 1 and "could not be written (Invalid cross-device link)" \
        in result.output
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_the_write_removes_the_temporary_file(tmp_path, monkeypatch):
    def killed(fd, data):
        os.write(fd, bytes(data[:10]))
        os.kill(os.getpid(), signal.SIGTERM)
        os.write(fd, bytes(data[10:]))      # the handler runs before this completes

    monkeypatch.setattr(output, "_write_all", killed)
    previous = signal.getsignal(signal.SIGTERM)
    target = output.check_output(tmp_path / "results.json")
    with pytest.raises(SystemExit) as ended:
        output.write_output(target, b"x" * 1000)
    assert ended.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is previous           # handler restored


def test_sigterm_to_the_command_removes_the_temporary_file(tmp_path):
    """A real process: `analyze` stalls in the middle of writing (its write is
    slowed), receives SIGTERM, exits 143 and leaves neither output nor temporary."""
    script = (
        "import os, sys, time\n"
        "from mscstats import output\n"
        "from mscstats.cli import main\n"
        "def slow(fd, data):\n"
        "    os.write(fd, bytes(data[:100]))\n"
        "    print('writing', flush=True, file=sys.stderr)\n"
        "    time.sleep(60)\n"
        "output._write_all = slow\n"
        f"main(['analyze', {str(TOY)!r}, '--sap', {SAP!r}, '-o', {str(tmp_path / 'r.json')!r}])\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE,
                               text=True, env=env)
    for line in process.stderr:
        if line.startswith("writing"):
            break
    assert _leftovers(tmp_path) == [f".r.json{output.TMP_MARK}{process.pid}"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    process.stderr.close()
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_of_dead_processes_are_removed(tmp_path, expected_json):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".results.json{output.TMP_MARK}{dead.pid}"
    stale.write_text("half")
    live = tmp_path / f".results.json{output.TMP_MARK}{os.getppid()}"   # a running process
    live.write_text("being written")
    other = tmp_path / f".report.pdf{output.TMP_MARK}{dead.pid}"        # another output's
    other.write_text("half")
    result = _analyze(tmp_path / "results.json")
    assert result.exit_code == 0, result.output
    assert not stale.exists() and live.exists() and other.exists()
    assert (tmp_path / "results.json").read_bytes() == expected_json


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_rewriting_an_output_keeps_its_mode(tmp_path, mode):
    out = tmp_path / "results.json"
    out.write_text("old")
    out.chmod(mode)
    result = _analyze(out)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == mode and out.read_text() != "old"


def test_a_new_output_gets_the_umask_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        result = _analyze(tmp_path / "results.json")
    finally:
        os.umask(umask)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == 0o640


# --------------------------------------------------------------------------
# synth: all of the trial or nothing
# --------------------------------------------------------------------------

def _synth(directory: Path):
    return CliRunner().invoke(main, ["synth", "refractory-hypoxia", "--n", "10",
                                     "-o", str(directory)])


def test_synth_on_a_full_disk_leaves_nothing(tmp_path, monkeypatch):
    written = []

    def fills_up(fd, data):
        if len(written) == 2:            # the third table does not fit
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(fd)
        os.write(fd, bytes(data))

    monkeypatch.setattr(output, "_write_all", fills_up)
    result = _synth(tmp_path / "trial")
    _clean(result)
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert list(tmp_path.iterdir()) == []


def test_synth_into_an_existing_directory_replaces_only_its_tables(tmp_path, monkeypatch):
    trial = tmp_path / "trial"
    assert _synth(trial).exit_code == 0
    (trial / "notes.txt").write_text("mine")
    (trial / "adsl.csv").chmod(0o600)
    before = {p.name: p.read_bytes() for p in trial.iterdir()}
    monkeypatch.setattr(output, "_write_all", lambda fd, data: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    assert _synth(trial).exit_code == 1
    assert {p.name: p.read_bytes() for p in trial.iterdir()} == before
    monkeypatch.undo()
    result = CliRunner().invoke(main, ["synth", "refractory-hypoxia", "-o", str(trial)])
    assert result.exit_code == 0, result.output
    assert (trial / "notes.txt").read_text() == "mine"
    assert stat.S_IMODE((trial / "adsl.csv").stat().st_mode) == 0o600
    assert (trial / "adsl.csv").read_bytes() != before["adsl.csv"]
    assert _leftovers(tmp_path) == []


def test_synth_removes_a_stale_staging_directory(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".trial{output.TMP_MARK}{dead.pid}"
    stale.mkdir()
    (stale / "visits.csv").write_text("half")
    result = _synth(tmp_path / "trial")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trial"]
    assert sorted(p.name for p in (tmp_path / "trial").iterdir()) == [
        "adae.csv", "adsl.csv", "ex.csv", "visits.csv"]


def test_synth_refuses_a_missing_parent_and_a_file(tmp_path):
    result = _synth(tmp_path / "no" / "trial")
    assert result.exit_code == 2 and "does not exist" in result.output
    (tmp_path / "file").write_text("x")
    result = _synth(tmp_path / "file")
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# --------------------------------------------------------------------------
# simulate --scheduler: nothing listening, or no workers
# --------------------------------------------------------------------------

def _simulate_on(address: str):
    return CliRunner().invoke(main, ["simulate", "--design", "refractory-hypoxia", "--n-sims",
                                     "3", "--analyses", "primary", "--scheduler", address,
                                     "-o", "-"])


def test_a_scheduler_that_does_not_answer_is_a_message(monkeypatch):
    pytest.importorskip("dask.distributed")
    from mscstats.simulation import engine as simulate
    monkeypatch.setattr(simulate, "CONNECT_TIMEOUT", 1)
    with socket.socket() as unused:               # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = _simulate_on(f"tcp://127.0.0.1:{port}")
    _clean(result)
    assert result.exit_code == 1, result.output
    assert f"--scheduler tcp://127.0.0.1:{port}: no dask scheduler answered within 1 s" \
        in result.output and "Fix: start one" in result.output
    assert result.stdout == ""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_scheduler_without_workers_is_a_message(monkeypatch):
    pytest.importorskip("dask.distributed")
    from distributed import LocalCluster
    from mscstats.simulation import engine as simulate
    monkeypatch.setattr(simulate, "CONNECT_TIMEOUT", 1)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        result = _simulate_on(cluster.scheduler_address)
    _clean(result)
    assert result.exit_code == 1, result.output
    assert "the scheduler has no worker" in result.output and "Fix: start workers" \
        in result.output


# --------------------------------------------------------------------------
# Report text from the data: figures draw it literally and short (the PDF side is in
# the catalogue: report-5000-character-usubjid, report-dollar-in-arm-name, ...)
# --------------------------------------------------------------------------

def test_figures_draw_dollar_signs_literally_and_shorten_long_labels():
    import pandas as pd
    from mscstats.report import figures
    from mscstats.report.content import render_png
    long_term = "Headache " + "y" * 20000
    terms = [r"$\frac{1}{0}$ head$ache", long_term]
    arms = ["control", r"$\alpha^{MSC$"]
    incidence = pd.DataFrame([{"AEBODSYS": "B", "AEDECOD": t, "ARM": a, "n": 1, "N": 3,
                               "proportion": 1 / 3} for t in terms for a in arms])
    ax = figures.plot_ae_incidence(incidence)
    figure = render_png(ax)                        # mathtext would raise here
    assert figure.png.startswith(b"\x89PNG") and figure.width_inches < 20
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[1] == r"\$\frac{1}{0}\$ head\$ache"     # escaped: drawn as written
    assert len(labels[0]) == figures.FIGURE_TEXT_LIMIT and labels[0].endswith("\u2026")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["control (N = 3)", r"\$\alpha^{MSC\$ (N = 3)"]
    # the escaped text is what matplotlib shows: no math, the dollars back
    shown = ax.get_legend().get_texts()[1]
    assert shown._preprocess_math(shown.get_text()) == (r"$\alpha^{MSC$ (N = 3)", False)


def test_an_output_with_a_name_of_250_characters(tmp_path, expected_json):
    out = tmp_path / ("r" * 245 + ".json")
    result = _analyze(out)
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == expected_json and _leftovers(tmp_path) == []
