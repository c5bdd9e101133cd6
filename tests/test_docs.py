"""Every key the SAP parser accepts is documented in docs/sap.md; every command and
option of the CLI in docs/cli.md; the user guide links what it promises."""

import re
from pathlib import Path

import click
import pytest

from mscstats import plan, schema, specs
from mscstats.cli import main

DOCS = Path(__file__).parents[1] / "docs"
DOC = (DOCS / "sap.md").read_text()
CLI_DOC = (DOCS / "cli.md").read_text()


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
    ("[[analysis]]", plan.ANALYSIS_KEYS + plan.ANALYSIS_OPTIONS + tuple(specs.METHODS)),
    ("[multiplicity]", plan.MULTIPLICITY_KEYS),
    ("[[estimand]]", plan.ESTIMAND_KEYS),
])
def test_every_accepted_key_is_documented(heading, keys):
    documented = _documented_keys(_section(heading))
    missing = sorted(set(keys) - documented)
    assert not missing, f"undocumented keys in {heading}: {missing}"


def test_no_documented_key_is_unknown():
    accepted = set(plan.STUDY_KEYS + plan.DATA_KEYS + plan.ENDPOINT_KEYS + plan.CONDITION_KEYS +
                   plan.ANALYSIS_KEYS + plan.ANALYSIS_OPTIONS + plan.MULTIPLICITY_KEYS +
                   plan.ESTIMAND_KEYS)
    accepted |= set(specs.METHODS)
    assert _documented_keys(DOC) <= accepted


def test_documented_example_parses():
    example = re.search(r"```toml\n(.*?)```", DOC, flags=re.S).group(1)
    sap = plan.parse_sap(example)
    assert [a.id for a in sap.analyses] == ["primary", "ttci_logrank"]


def _cli_section(command: str) -> str:
    start = CLI_DOC.index(f"\n## {command}\n")
    nxt = CLI_DOC.find("\n## ", start + 1)
    return CLI_DOC[start:nxt if nxt > 0 else None]


def _names_option(text: str, opt: str) -> bool:
    # `--n` must not match `--n-sims`: the option ends at a space, backtick, = or /
    return re.search(r"`" + re.escape(opt) + r"(?![\w-])", text) is not None


@pytest.mark.parametrize("name", sorted(main.commands))
def test_every_command_and_option_is_in_cli_doc(name):
    command = main.commands[name]
    assert f"mscstats {name}" in CLI_DOC.split("\n## ")[0], f"{name} missing from the synopsis"
    section = _cli_section(name)
    missing = [opt for param in command.params if isinstance(param, click.Option)
               for opt in param.opts if opt != "--help" and not _names_option(section, opt)]
    assert not missing, f"docs/cli.md, section {name}: options not documented: {missing}"


def test_top_level_options_are_in_cli_doc():
    opts = [opt for param in main.params if isinstance(param, click.Option)
            for opt in param.opts if opt != "--help"]
    assert opts and all(_names_option(CLI_DOC, opt) for opt in opts)


def test_cli_doc_names_no_unknown_command():
    documented = set(re.findall(r"^## ([a-z-]+)$", CLI_DOC, flags=re.M))
    assert documented == set(main.commands)


def test_user_guide_links_resolve():
    guide = DOCS / "user-guide.md"
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", guide.read_text()):
        if "://" not in target:
            assert (guide.parent / target).exists(), f"user-guide.md links to missing {target}"


def test_every_sap_number_has_its_range_documented():
    """docs/sap.md "Numbers and their ranges" gives each row of specs.RANGES as checked."""
    start = DOC.index("## Numbers and their ranges")
    rows = [line.split("|")[1:-1] for line in DOC[start:].splitlines()
            if line.startswith("| ") and "`" in line]
    documented = {}
    for name, kind, interval, _ in rows:
        for key in re.findall(r"`(?:[a-z]+\.)?([a-z_]+)`", name):
            documented[key] = (kind.strip(), interval.strip())
    for key, allowed in specs.RANGES.items():
        kind = "integer" if allowed.kind is int else "number"
        assert documented.get(key) == (kind, allowed.interval), key
