"""Every SAP method and endpoint kind has its whole row, and every part of it is used."""

import inspect

import pytest

from mscstats import plan, schema, specs
from mscstats.analysis import registry

METHOD_PARTS = ("kinds", "options", "runner", "sentence", "reference", "unestimable_test")


@pytest.mark.parametrize("name", sorted(specs.METHODS))
def test_method_row_is_complete(name):
    row = specs.METHODS[name]
    assert row.name == name
    for part in METHOD_PARTS:
        assert getattr(row, part), f"{name} lacks its {part}"
    assert set(row.kinds) <= set(schema.ENDPOINT_KINDS)
    assert set(row.required) <= set(row.options)
    assert row.arms in ("one", "two_or_more", "any", "two")
    runner = specs.resolve(row.runner)
    assert list(inspect.signature(runner).parameters) == ["inp"]
    if row.batch_kernel is not None:
        assert callable(specs.resolve(row.batch_kernel))


@pytest.mark.parametrize("name", sorted(specs.METHODS))
def test_every_option_of_a_method_has_its_check(name):
    for option in specs.METHODS[name].options:
        check = specs.OPTIONS[option]
        assert check in ("range", "days", "columns", "deltas", "covariances", "text") or \
            (isinstance(check, tuple) and check), option
        if check in ("range", "days"):
            assert option in specs.RANGES, option


def test_every_option_check_is_an_option_of_some_method():
    used = {o for row in specs.METHODS.values() for o in row.options}
    assert set(specs.OPTIONS) == used
    assert set(plan.ANALYSIS_OPTIONS) == used


def test_tipping_point_and_the_mi_options_have_their_rows():
    row = specs.METHODS["tipping_point"]
    assert {"deltas", "test", "imputations", "mi_reference", "missing"} <= set(row.options)
    assert specs.OPTIONS["missing"] == schema.MISSING_DATA
    assert specs.OPTIONS["mi_reference"] == schema.MI_REFERENCES
    assert specs.RANGES["imputations"].high == schema.MAX_IMPUTATIONS
    assert set(specs.MI_METHODS) <= set(specs.METHODS)
    assert all({"change", "value"} & set(specs.METHODS[m].kinds) for m in specs.MI_METHODS)
    assert specs.HYPOTHETICAL_METHODS == ("mmrm", "tipping_point")


def test_the_registry_is_the_rows():
    runners = registry()
    assert set(runners) == set(specs.METHODS)
    for name, row in specs.METHODS.items():
        assert runners[name] is specs.resolve(row.runner)


def test_every_runner_function_has_a_row():
    import importlib
    named = {row.runner for row in specs.METHODS.values()}
    for module in {row.runner.split(":")[0] for row in specs.METHODS.values()}:
        functions = [f for f in vars(importlib.import_module(f"mscstats.{module}"))
                     if f.startswith("run_") and f != "run_mi"]
        assert {f"{module}:{f}" for f in functions} <= named, module


@pytest.mark.parametrize("kind", schema.ENDPOINT_KINDS)
def test_kind_row_is_complete(kind):
    row = specs.KINDS[kind]
    assert row.name == kind and row.keys and row.required and row.response
    assert set(row.required) <= set(row.keys) <= set(plan.ENDPOINT_KEYS)
    assert row.response in ("AVAL", "CHG")
    assert callable(specs.resolve(row.deriver))
    assert row.permutation_statistic in schema.PERMUTATION_STATISTICS
    assert specs.default_permutation_statistic(kind) == row.permutation_statistic
    # a kind without an intercurrent key says how death and discharge enter instead
    assert bool(row.intercurrent) == ("intercurrent" not in row.keys)
    assert any(kind in m.kinds for m in specs.METHODS.values())


def test_every_permutation_statistic_names_the_kinds_it_fits():
    assert set(specs.PERMUTATION_STATISTIC_KINDS) == set(schema.PERMUTATION_STATISTICS)
    for statistic, kinds in specs.PERMUTATION_STATISTIC_KINDS.items():
        assert kinds and set(kinds) <= set(specs.METHODS["permutation"].kinds), statistic
    for kind in schema.ENDPOINT_KINDS:      # every kind's default statistic fits it
        assert kind in specs.PERMUTATION_STATISTIC_KINDS[specs.default_permutation_statistic(kind)]


def test_the_methods_whose_strata_are_factors_take_strata():
    for name, row in specs.METHODS.items():
        if row.strata_as_factors:
            assert "strata" in row.options, name


def test_every_kind_has_a_row():
    assert tuple(specs.KINDS) == schema.ENDPOINT_KINDS


def test_the_grid_engine_runs_the_methods_with_a_batch_kernel():
    from mscstats.derive.grid import GRID_METHODS
    from mscstats.simulation import grid_engine
    batched = {m for m, row in specs.METHODS.items() if row.batch_kernel}
    assert GRID_METHODS == batched == set(grid_engine._BATCH)


def test_the_report_states_every_method_in_its_sentence():
    from mscstats.report.content import METHOD_TEXT
    assert METHOD_TEXT == {m: row.sentence for m, row in specs.METHODS.items()}
