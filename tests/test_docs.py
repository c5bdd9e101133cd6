"""Every key the SAP parser accepts is documented in docs/sap.md."""

import re
from pathlib import Path

import pytest

from mscstats import plan, schema

DOC = (Path(__file__).parents[1] / "docs" / "sap.md").read_text()


def _section(heading: str) -> str:
    start = DOC.index(f"## `{heading}`")
    nxt = DOC.find("\n## ", start + 1)
    return DOC[start:nxt if nxt > 0 else None]


def _documented_keys(text: str) -> set[str]:
    # first cell of table rows: | `key` | ...
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", text, flags=re.M))


@pytest.mark.parametrize("heading, keys", [
    ("[study]", plan.STUDY_KEYS),
    ("[data]", plan.DATA_KEYS),
    ("[[endpoint]]", plan.ENDPOINT_KEYS + plan.CONDITION_KEYS),
    ("[[analysis]]", plan.ANALYSIS_KEYS + plan.ANALYSIS_OPTIONS + tuple(schema.METHODS)),
    ("[multiplicity]", plan.MULTIPLICITY_KEYS),
])
def test_every_accepted_key_is_documented(heading, keys):
    documented = _documented_keys(_section(heading))
    missing = sorted(set(keys) - documented)
    assert not missing, f"undocumented keys in {heading}: {missing}"


def test_no_documented_key_is_unknown():
    accepted = set(plan.STUDY_KEYS + plan.DATA_KEYS + plan.ENDPOINT_KEYS + plan.CONDITION_KEYS +
                   plan.ANALYSIS_KEYS + plan.ANALYSIS_OPTIONS + plan.MULTIPLICITY_KEYS)
    accepted |= set(schema.METHODS)
    assert _documented_keys(DOC) <= accepted


def test_documented_example_parses():
    example = re.search(r"```toml\n(.*?)```", DOC, flags=re.S).group(1)
    sap = plan.parse_sap(example)
    assert [a.id for a in sap.analyses] == ["primary", "ttci_logrank"]
