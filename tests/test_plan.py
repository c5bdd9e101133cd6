"""SAP parsing and checking: every error names the key path and a fix."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mscstats.cli import main
from mscstats.errors import SapError
from mscstats.plan import Condition, EventRule, parse_sap, read_sap, template, template_text
from mscstats.schema import DESIGN_KEYS

BASE = """
[study]
id = "T"
arms = ["control", "MSC"]

[[endpoint]]
id = "pf_d7"
kind = "change"
param = "PF"
day = 7

[[endpoint]]
id = "ttci"
kind = "time_to_event"
horizon = 28
event.any = [ { param = "WHOCPS", chg = -2, op = "<=" }, { state = "discharged" } ]

[[analysis]]
id = "primary"
endpoint = "pf_d7"
method = "ancova"
covariates = ["BASE"]

[[analysis]]
id = "km"
endpoint = "ttci"
method = "logrank"
"""


def test_base_parses_into_data():
    sap = parse_sap(BASE)
    assert sap.study.arms == ("control", "MSC")
    assert sap.endpoint("ttci").event == EventRule("any", (
        Condition(param="WHOCPS", op="<=", chg=-2.0), Condition(state="discharged")))
    assert sap.analyses[0].options == {"covariates": ("BASE",)}
    assert sap.params == ["PF", "WHOCPS"]
    assert len(sap.sha256) == 64


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_templates_parse(key):
    sap = template(key)
    assert sap.study.arms
    assert all(a.endpoint in {e.id for e in sap.endpoints} for a in sap.analyses)


def _error(text: str) -> SapError:
    with pytest.raises(SapError) as info:
        parse_sap(text)
    return info.value


CASES = [
    # (description, edit of BASE, key path expected, words expected in the message)
    ("typo in a top-level table", BASE.replace("[[endpoint]]\nid = \"ttci\"",
                                               "[[endpont]]\nid = \"ttci\""),
     "SAP.endpont", "did you mean 'endpoint'"),
    ("unknown endpoint kind", BASE.replace('kind = "change"', 'kind = "slope"'),
     "endpoint[pf_d7].kind", "use one of"),
    ("analysis names a missing endpoint", BASE.replace('endpoint = "pf_d7"', 'endpoint = "pf_d8"'),
     "analysis[primary].endpoint", "no [[endpoint]] declares"),
    ("method does not fit the kind", BASE.replace('method = "logrank"', 'method = "welch"'),
     "analysis[km].method", "does not fit the time_to_event endpoint"),
    ("unknown method", BASE.replace('method = "logrank"', 'method = "logrnak"'),
     "analysis[km].method", "did you mean 'logrank'"),
    ("option typo", BASE.replace('covariates = ["BASE"]', 'covariate = ["BASE"]'),
     "analysis[primary].covariate", "did you mean 'covariates'"),
    ("option of another method", BASE.replace('method = "logrank"', 'method = "logrank"\ntau = 28'),
     "analysis[km].tau", "not an option of method logrank"),
    ("required option missing", BASE.replace('method = "logrank"', 'method = "rmst"'),
     "analysis[km].tau", "required by method rmst"),
    ("day 0", BASE.replace("day = 7", "day = 0"), "endpoint[pf_d7].day", "no day 0"),
    ("baseline day as target", BASE.replace("day = 7", "day = 1"), "endpoint[pf_d7].day",
     "post-baseline"),
    ("bad operator", BASE.replace('op = "<="', 'op = "=<"'),
     "endpoint[ttci].event.any[0].op", "use one of"),
    ("value and chg together", BASE.replace('chg = -2, op', 'chg = -2, value = 3, op'),
     "endpoint[ttci].event.any[0]", "exactly one of value"),
    ("unknown state", BASE.replace('"discharged"', '"recovered"'),
     "endpoint[ttci].event.any[1].state", "discharged, dead, ventilated"),
    ("event not any/all", BASE.replace("event.any", "event.some"), "endpoint[ttci].event",
     "event.any"),
    ("key of another kind", BASE.replace("horizon = 28", "horizon = 28\nwindow = 2"),
     "endpoint[ttci].window", "does not apply to a time_to_event endpoint"),
    ("required endpoint key", BASE.replace("param = \"PF\"\n", ""), "endpoint[pf_d7].param",
     "required for a change endpoint"),
    ("family names missing analysis", BASE + '\n[multiplicity]\nmethod = "holm"\nfamily = ["primary", "ttci"]\n',
     "multiplicity.family[1]", "no [[analysis]] declares"),
    ("unknown multiplicity method", BASE + '\n[multiplicity]\nmethod = "sidak"\n',
     "multiplicity.method", "holm, hochberg, bonferroni"),
    ("single arm with a comparison", BASE.replace('arms = ["control", "MSC"]', 'arms = ["MSC"]'),
     "analysis[primary].method", "compares arms"),
    ("duplicate ids", BASE.replace('id = "km"', 'id = "primary"'), "analysis[1].id", "used twice"),
    ("alpha out of range", BASE.replace('arms = [', 'alpha = 5\narms = ['), "study.alpha",
     "two-sided level"),
    ("number given as text", BASE.replace("day = 7", 'day = "7"'), "endpoint[pf_d7].day",
     "must be an integer"),
    ("competing-risk method without competing death",
     BASE.replace('method = "logrank"', 'method = "cuminc"'), "analysis[km].method",
     'death = "competing"'),
    ("mmrm without days", BASE.replace('method = "ancova"', 'method = "mmrm"'),
     "analysis[primary].method", "repeated endpoint"),
    ("permutation covariates without ancova",
     BASE.replace('method = "ancova"', 'method = "permutation"\nstatistic = "mean_difference"'),
     "analysis[primary].covariates", 'statistic = "ancova"'),
    ("missing study", BASE.replace("[study]", "[studdy]"), "SAP.studdy", "did you mean 'study'"),
]


@pytest.mark.parametrize("text, key, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sap_errors_name_key_and_fix(text, key, words):
    err = _error(text)
    assert err.key == key
    assert words in str(err)


def test_toml_syntax_error():
    err = _error(BASE.replace('id = "T"', 'id = "T'))
    assert err.key == "file" and "not valid TOML" in str(err)


def test_sap_strings_are_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    err = _error(BASE.replace("day = 7", f'day = "{payload}"'))
    assert "must be an integer" in str(err)
    err = _error(BASE.replace("chg = -2", f'chg = "{payload}"'))
    assert "must be a number" in str(err)
    assert not marker.exists()


def test_package_has_no_eval_or_exec():
    root = Path(__file__).parents[1] / "mscstats"
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert not re.search(r"\b(eval|exec)\s*\(", text), source
        assert "pickle" not in text, source


def test_read_sap_missing_file(tmp_path):
    with pytest.raises(SapError, match="no SAP file"):
        read_sap(tmp_path / "nope.toml")


def test_cli_sap_prints_template():
    result = CliRunner().invoke(main, ["sap", "refractory-hypoxia"])
    assert result.exit_code == 0
    assert result.output == template_text("refractory-hypoxia")
    parse_sap(result.output)


def test_cli_sap_unknown_key_is_usage_error():
    result = CliRunner().invoke(main, ["sap", "four-arm"])
    assert result.exit_code == 2
