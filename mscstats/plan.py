"""The SAP: parse and check the TOML before any data is read.

The SAP is data. Conditions are tables of (param, op, value) or states, never
strings that get evaluated. Every error names the key path and the fix.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import schema
from .specs import (KINDS, METHODS, MI_METHODS, OPTIONS, PERMUTATION_STATISTIC_KINDS, RANGES,
                    default_permutation_statistic)
from .errors import SapError
# ESTIMAND_KEYS is read from here with the other sections' keys (docs/sap.md, a test)
from .intercurrent import ESTIMAND_KEYS  # noqa: F401
from .intercurrent import (Estimand, check_strategy_fits, check_windows,
                           parse_estimands, parse_intercurrent)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Condition", "EventRule", "Study", "DataRules", "Endpoint", "Analysis",
           "Multiplicity", "Estimand", "Sap", "read_sap", "parse_sap"]

AE_KINDS = ("any", "serious", "related", "grade3", "infusion")

# Every key the SAP accepts, by section (docs/sap.md documents each; a test checks).
STUDY_KEYS = ("id", "title", "arms", "population", "alpha", "seed", "data_cutoff",
              "sap_version", "sap_status")
SAP_STATUSES = ("draft", "final")
DATA_KEYS = ("daily", "below_lloq", "fio2_from_flow", "arm", "params", "decimal")
ENDPOINT_KEYS = ("id", "kind", "label", "param", "day", "days", "window", "transform",
                 "horizon", "event", "death", "missing", "intercurrent")
CONDITION_KEYS = ("param", "op", "value", "chg", "on", "state", "ae")
ANALYSIS_KEYS = ("id", "endpoint", "method")
MULTIPLICITY_KEYS = ("method", "family")


# Every number the SAP takes has a range (specs.RANGES), checked before any data is read
# (docs/sap.md "Numbers and their ranges" lists that table; a test checks).

MAX_SAP_BYTES = 1_000_000     # a SAP is a page or two of TOML; 1 MB is far beyond any
MAX_SAP_DEPTH = 32            # tables and lists inside each other (event rules nest)
# Columns that are not covariates: identifiers, and the arm, which every model has.
IDENTIFIER_COLUMNS = ("USUBJID", "SUBJID", "STUDYID")
ARM_COLUMNS = ("ARM", "ARMCD", "ACTARM", "ACTARMCD", "TRT01P", "TRT01PN", "TRT01A", "TRT01AN")


# --------------------------------------------------------------------------
# The parsed plan
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Condition:
    """One leaf of an event rule. Exactly one of param, state, ae is set.

    param + op + value  the value on that day compares as `op value`
    param + op + chg    the change from baseline compares as `op chg`
    on                  only while on this oxygen support (OXYDEV code), e.g. "RA"
    state               "discharged" | "dead" | "ventilated": from the day it begins
    ae                  an adverse event starts: any | serious | related | grade3 |
                        infusion (within 6 hours after a dose)
    """
    param: str | None = None
    op: str | None = None
    value: float | None = None
    chg: float | None = None
    on: str | None = None
    state: str | None = None
    ae: str | None = None


@dataclass(frozen=True)
class EventRule:
    """`any` (first day any holds) or `all` (first day all hold) of conditions/rules."""
    mode: str
    items: tuple[Condition | EventRule, ...]

    def leaves(self) -> list[Condition]:
        out: list[Condition] = []
        for item in self.items:
            out.extend(item.leaves() if isinstance(item, EventRule) else [item])
        return out


@dataclass(frozen=True)
class Study:
    id: str
    title: str
    arms: tuple[str, ...]
    population: str = "ITT"
    alpha: float = 0.05
    seed: int = 1
    data_cutoff: str = ""          # ISO date of the data cut-off; "" when the SAP has none
    sap_version: str = ""          # the SAP document's version, as the sponsor numbers it
    sap_status: str = ""           # "draft" | "final"; "" when the SAP does not say


@dataclass(frozen=True)
class DataRules:
    """How raw records become one value per subject and day (DESIGN.md 2-3): the SAP's
    [data] table, handed as one object to the loader (trial.validate.load_trial).
    Built by hand (a notebook), it checks its own values and names the SAP key."""
    daily: str = "worst"
    below_lloq: str = "half"
    fio2_from_flow: bool = False
    arm: str = ""                          # adsl column of the arm; "" = ARM, else TRT01P
    params: tuple[tuple[str, str], ...] = ()  # (mscstats code, the sponsor's PARAMCD)
    decimal: str | None = None      # decimal mark of CSV numbers; None: as each file shows it

    def __post_init__(self):
        for key, value, allowed in (("daily", self.daily, schema.DAILY_RULES),
                                    ("below_lloq", self.below_lloq, schema.BELOW_LLOQ_RULES),
                                    ("decimal", self.decimal, (None, ".", ","))):
            if value not in allowed:
                shown = ", ".join(repr(a) if a is not None else "None" for a in allowed)
                raise SapError(f"data.{key}", f"is {value!r}.", f"use one of: {shown}.",
                               file="DataRules")


@dataclass(frozen=True)
class Endpoint:
    id: str
    kind: str
    label: str = ""
    param: str | None = None
    day: int | None = None
    days: tuple[int, ...] = ()
    window: int = 1
    transform: str | None = None
    horizon: int | None = None
    event: EventRule | None = None
    death: str = "censor_at_horizon"
    missing: str = "exclude"
    intercurrent: tuple[tuple[str, str], ...] = ()   # (event, strategy); DESIGN.md 9

    def strategy(self, event: str) -> str:
        """The SAP's strategy for an intercurrent event (treatment_policy by default)."""
        return dict(self.intercurrent).get(event, "treatment_policy")

    @property
    def repeated(self) -> bool:
        return bool(self.days)

    @property
    def params(self) -> list[str]:
        """Every parameter the endpoint reads."""
        names = [self.param] if self.param else []
        if self.event is not None:
            names += [c.param for c in self.event.leaves() if c.param]
            names += ["OXYDEV" for c in self.event.leaves() if c.on]
        return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Analysis:
    id: str
    endpoint: str
    method: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def population(self) -> str | None:
        return self.options.get("population")


@dataclass(frozen=True)
class Multiplicity:
    method: str = "none"
    family: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sap:
    study: Study
    data: DataRules
    endpoints: tuple[Endpoint, ...]
    analyses: tuple[Analysis, ...]
    multiplicity: Multiplicity
    sha256: str = ""
    source: str = "SAP"
    estimands: tuple[Estimand, ...] = ()

    def endpoint(self, endpoint_id: str) -> Endpoint:
        for e in self.endpoints:
            if e.id == endpoint_id:
                return e
        raise KeyError(endpoint_id)

    def analysis_population(self, analysis: Analysis) -> str:
        return analysis.population or self.study.population

    @property
    def params(self) -> list[str]:
        names: list[str] = []
        for e in self.endpoints:
            names += e.params
        return list(dict.fromkeys(names))


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------

def read_sap(path: str | Path) -> Sap:
    """Read and check a SAP file; SapError names the key path and the fix."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SapError("file", f"no SAP file at {path}.",
                       "give the path of a TOML SAP; `mscstats sap KEY` prints a template.",
                       file=path.name) from None
    if stat.S_ISDIR(info.st_mode):
        raise SapError("file", f"{path} is a directory, not a SAP file.",
                       "give the path of the .toml file.", file=path.name)
    if not stat.S_ISREG(info.st_mode):
        # /dev/zero would be read for ever, a FIFO would wait for a writer
        raise SapError("file", f"{path} is not a regular file (a device, a FIFO or a socket).",
                       "save the SAP as a .toml file and give its path.", file=path.name)
    with open(path, "rb") as handle:
        raw_bytes = handle.read(MAX_SAP_BYTES + 1)
    return parse_sap(raw_bytes, source=path.name)


def parse_sap(text: str | bytes, source: str = "SAP") -> Sap:
    raw_bytes = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw_bytes) > MAX_SAP_BYTES:
        raise SapError("file", f"is larger than {MAX_SAP_BYTES:,} bytes; a SAP is a short "
                       "TOML text.", "check that --sap names the SAP, not a data file.",
                       file=source)
    try:
        doc = tomllib.loads(raw_bytes.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SapError("file", "is not UTF-8 text.", "save the SAP as UTF-8.", file=source) from None
    except tomllib.TOMLDecodeError as err:
        raise SapError("file", f"is not valid TOML ({err}).",
                       "fix the TOML syntax at the position given.", file=source) from None
    except RecursionError:
        raise _too_deep("file", source) from None
    _scan(doc, source)
    return _Checker(source).sap(doc, hashlib.sha256(raw_bytes).hexdigest())


def _too_deep(key: str, source: str) -> SapError:
    return SapError(key, f"the SAP nests deeper than {MAX_SAP_DEPTH} levels.",
                    "write event rules and tables a few levels deep.", file=source)


def _scan(doc: Mapping, source: str) -> None:
    """Before any check: no NaN or infinity anywhere (TOML allows nan and inf), and no
    nesting beyond MAX_SAP_DEPTH. Iterative, so no depth can overflow the stack."""
    stack: list[tuple[str, Any, int]] = [("", doc, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_SAP_DEPTH:
            raise _too_deep(path, source)
        if isinstance(value, float) and not math.isfinite(value):
            raise SapError(path, f"{value} is not a finite number.",
                           "write a finite number; TOML's nan and inf are not allowed.",
                           file=source)
        if isinstance(value, Mapping):
            stack += [(f"{path}.{k}" if path else k, v, depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(_named(v, f"{path}[{i}]", path) if depth == 1 else f"{path}[{i}]",
                       v, depth + 1) for i, v in enumerate(value)]


class _Checker:
    """Walks the TOML document; every error carries the key path."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str, fix: str = "") -> SapError:
        return SapError(key, message, fix, file=self.source)

    # -- generic helpers ---------------------------------------------------
    def keys(self, table: Mapping, path: str, allowed: tuple[str, ...],
             required: tuple[str, ...] = ()) -> None:
        if not isinstance(table, Mapping):
            raise self.fail(path, f"must be a table, not {type(table).__name__}.",
                            f"write it as [{path}] or as {{ key = value }}.")
        for key in table:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{near[0]}'?" if near else \
                    f"allowed keys: {', '.join(allowed)}."
                raise self.fail(f"{path}.{key}", "unknown key.", hint)
        for key in required:
            if key not in table:
                raise self.fail(f"{path}.{key}", "is required.", f"add `{key} = ...` to {path}.")

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        if value not in choices:
            near = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            raise self.fail(path, f"{value!r} is not allowed.",
                            f"{hint}use one of: {', '.join(choices)}.")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "must be a non-empty string.", 'write it in quotes, e.g. "A".')
        return value

    def integer(self, value: Any, path: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, not {value!r}.",
                            "write a whole number without quotes, e.g. 28.")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be >= {minimum}, not {value}.",
                            f"use a whole number of at least {minimum}.")
        return value

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"must be a number, not {value!r}.",
                            "write a number without quotes, e.g. 0.05.")
        return float(value)

    def ranged(self, key: str, value: Any, path: str) -> float:
        """A number of RANGES[key]: its type, then its range."""
        allowed = RANGES[key]
        number = self.integer(value, path) if allowed.kind is int else self.number(value, path)
        if number not in allowed:
            raise self.fail(path, f"{number} is not {allowed.meaning} in {allowed.interval}.",
                            f"use {allowed.meaning} in {allowed.interval}, e.g. "
                            f"{allowed.example}.")
        return number

    def day(self, value: Any, path: str) -> int:
        day = self.integer(value, path)
        if day == 0:
            raise self.fail(path, "there is no day 0 (day 1 is randomization).",
                            "use 1 for the day of randomization, -1 for the day before.")
        return day

    def string_list(self, value: Any, path: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(path, "must be a list of strings.", f'e.g. {path.split(".")[-1]} = ["A"]')
        return tuple(value)

    def words(self, value: Any, path: str) -> str:
        """Free text (a title, a label): a string, not a list or a table."""
        if not isinstance(value, str):
            raise self.fail(path, f"must be text in quotes, not {_toml_type(value)}.",
                            f'e.g. {path.split(".")[-1]} = "..."')
        return value

    def reference(self, value: Any, path: str, section: str) -> str:
        """The id of another entry: one string (not a list or a table)."""
        if not isinstance(value, str) or not value.strip():
            key = path.split(".")[-1]
            raise self.fail(path, f"must be the id of one {section} (a string), not "
                            f"{_toml_type(value)}.", f'write it in quotes, e.g. {key} = "pf_d7".')
        return value

    def model_columns(self, value: Any, path: str) -> tuple[str, ...]:
        """covariates and strata: adsl columns, not an identifier and not the arm."""
        columns = tuple(v.upper() for v in self.string_list(value, path))
        for i, name in enumerate(columns):
            if name in IDENTIFIER_COLUMNS:
                raise self.fail(f"{path}[{i}]", f"{name} identifies subjects; it is not a "
                                "covariate or a stratum.", f"remove {name}; use adsl columns "
                                "such as AGE, SEX or STRATUM.")
            if name in ARM_COLUMNS:
                raise self.fail(f"{path}[{i}]", f"{name} is the arm, which every analysis "
                                "already compares (it is in the model).", f"remove {name}.")
        return columns

    def table_list(self, doc: Mapping, key: str) -> list[Mapping]:
        items = doc.get(key, [])
        if isinstance(items, Mapping) or not isinstance(items, list):
            raise self.fail(key, "must be an array of tables.", f"write each as [[{key}]].")
        return items

    # -- sections ----------------------------------------------------------
    def sap(self, doc: Mapping, sha: str) -> Sap:
        self.keys(doc, "SAP", ("study", "data", "endpoint", "analysis", "multiplicity", "estimand"),
                  ("study", "endpoint", "analysis"))
        study = self.study(doc["study"])
        data = self.data_rules(doc.get("data", {}))
        endpoints = tuple(self.endpoint(e, f"endpoint[{i}]")
                          for i, e in enumerate(self.table_list(doc, "endpoint")))
        if not endpoints:
            raise self.fail("endpoint", "the SAP declares no endpoint.", "add an [[endpoint]].")
        self.unique([e.id for e in endpoints], "endpoint")
        by_id = {e.id: e for e in endpoints}
        analyses = tuple(self.analysis(a, f"analysis[{i}]", by_id, study)
                         for i, a in enumerate(self.table_list(doc, "analysis")))
        if not analyses:
            raise self.fail("analysis", "the SAP declares no analysis.", "add an [[analysis]].")
        self.unique([a.id for a in analyses], "analysis")
        multiplicity = self.multiplicity(doc.get("multiplicity", {}), analyses)
        estimands = parse_estimands(self.table_list(doc, "estimand"), analyses, self.fail)
        return Sap(study, data, endpoints, analyses, multiplicity, sha256=sha, source=self.source,
                   estimands=estimands)

    def unique(self, ids: list[str], key: str) -> None:
        seen: set[str] = set()
        for i, name in enumerate(ids):
            if name in seen:
                raise self.fail(f"{key}[{i}].id", f"{name!r} is used twice.",
                                "give every entry its own id.")
            seen.add(name)

    def study(self, t: Mapping) -> Study:
        self.keys(t, "study", STUDY_KEYS, ("id", "arms"))
        arms = self.string_list(t["arms"], "study.arms")
        if not arms:
            raise self.fail("study.arms", "names no arm.", "list the arms, reference first.")
        if len(set(arms)) != len(arms):
            raise self.fail("study.arms", "names an arm twice.", "list each arm once.")
        alpha = self.ranged("alpha", t.get("alpha", 0.05), "study.alpha")
        study_id = t["id"]
        return Study(id=self.text(str(study_id) if isinstance(study_id, int) else study_id,
                                  "study.id"),
                     title=self.words(t.get("title", ""), "study.title"),
                     arms=arms,
                     population=self.choice(t.get("population", "ITT"), "study.population",
                                            schema.POPULATIONS),
                     alpha=alpha,
                     seed=self.ranged("seed", t.get("seed", 1), "study.seed"),
                     data_cutoff=self.iso_date(t.get("data_cutoff"), "study.data_cutoff"),
                     sap_version=self.words(t.get("sap_version", ""), "study.sap_version"),
                     sap_status=self.choice(t.get("sap_status", ""), "study.sap_status",
                                            SAP_STATUSES) if "sap_status" in t else "")

    def iso_date(self, value: Any, path: str) -> str:
        """A TOML date (2021-03-15) or the same in quotes, as its ISO text; "" when absent."""
        import datetime
        if value is None:
            return ""
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, str) and len(value) == 10:
            try:
                return datetime.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise self.fail(path, f"{value!r} is not a date.",
                        "write the cut-off as an ISO date without a time, e.g. 2021-03-15.")

    def data_rules(self, t: Mapping) -> DataRules:
        self.keys(t, "data", DATA_KEYS)
        flow = t.get("fio2_from_flow", False)
        if not isinstance(flow, bool):
            raise self.fail("data.fio2_from_flow", "must be true or false.",
                            "write fio2_from_flow = true or false, without quotes.")
        return DataRules(daily=self.choice(t.get("daily", "worst"), "data.daily",
                                           schema.DAILY_RULES),
                         below_lloq=self.choice(t.get("below_lloq", "half"), "data.below_lloq",
                                                schema.BELOW_LLOQ_RULES),
                         fio2_from_flow=flow,
                         arm=(self.text(t["arm"], "data.arm").strip().upper()
                              if "arm" in t else ""),
                         params=self.param_map(t.get("params", {})),
                         decimal=(self.choice(t["decimal"], "data.decimal", (".", ","))
                                  if "decimal" in t else None))

    def param_map(self, t: Any) -> tuple[tuple[str, str], ...]:
        """[data.params]: mscstats code = the sponsor's PARAMCD, e.g. PAO2 = "PO2"."""
        self.keys(t, "data.params", tuple(t) if isinstance(t, Mapping) else ())
        pairs, seen = [], {}
        for code, sponsor in t.items():
            path = f"data.params.{code}"
            if code.upper() not in schema.PARAMS:
                raise self.fail(path, f"{code} is not a parameter mscstats knows.",
                                f"map one of {', '.join(schema.PARAMS)} to your PARAMCD, e.g. "
                                'PAO2 = "PO2"; other parameters pass through under their own '
                                "code.")
            theirs = self.text(sponsor, path).strip().upper()
            if theirs in seen:
                raise self.fail(path, f"{theirs} is also mapped to {seen[theirs]}.",
                                "map each sponsor PARAMCD to one parameter.")
            seen[theirs] = code.upper()
            pairs.append((code.upper(), theirs))
        return tuple(pairs)

    # -- endpoints ---------------------------------------------------------
    def endpoint(self, t: Mapping, path: str) -> Endpoint:
        path = _named(t, path, "endpoint")
        self.keys(t, path, ENDPOINT_KEYS, ("id", "kind"))
        endpoint_id = self.text(t["id"], f"{path}.id")
        kind = self.choice(t["kind"], f"{path}.kind", schema.ENDPOINT_KINDS)
        allowed = ("id", "kind", "label") + KINDS[kind].keys
        for key in t:
            if key not in allowed:
                fix = (KINDS[kind].intercurrent if key == "intercurrent" else
                       f"a {kind} endpoint takes: {', '.join(allowed)}.")
                raise self.fail(f"{path}.{key}", f"does not apply to a {kind} endpoint.", fix)
        for key in KINDS[kind].required:
            if key not in t:
                raise self.fail(f"{path}.{key}", f"is required for a {kind} endpoint.",
                                f"add `{key} = ...`.")
        fields_: dict[str, Any] = {"id": endpoint_id, "kind": kind,
                                   "label": self.words(t.get("label", ""), f"{path}.label")}
        if "param" in t:
            fields_["param"] = self.param(t["param"], f"{path}.param", numeric=kind != "ordinal")
        if "day" in t:
            fields_["day"] = self.day(t["day"], f"{path}.day")
            if fields_["day"] < 2:
                raise self.fail(f"{path}.day", "must be a post-baseline day (>= 2).",
                                "day 1 and earlier are baseline.")
            self.ranged("day", fields_["day"], f"{path}.day")
        if "days" in t:
            fields_["days"] = self.repeated_days(t["days"], f"{path}.days", fields_["day"])
        if "window" in t:
            fields_["window"] = self.ranged("window", t["window"], f"{path}.window")
        if "transform" in t:
            fields_["transform"] = self.choice(t["transform"], f"{path}.transform", ("log",))
        if "horizon" in t:
            fields_["horizon"] = self.ranged("horizon", t["horizon"], f"{path}.horizon")
        if "event" in t:
            fields_["event"] = self.event(t["event"], f"{path}.event")
        if "death" in t:
            fields_["death"] = self.choice(t["death"], f"{path}.death", schema.DEATH_RULES)
        if "missing" in t:
            fields_["missing"] = self.choice(t["missing"], f"{path}.missing",
                                             ("exclude", "failure", "success"))
        if "intercurrent" in t:
            fields_["intercurrent"] = parse_intercurrent(t["intercurrent"], f"{path}.intercurrent",
                                                         self.fail)
        if "days" in fields_:
            check_windows(fields_["days"], fields_.get("window", 1), path, self.fail)
        return Endpoint(**fields_)

    def param(self, value: Any, path: str, numeric: bool = True) -> str:
        code = self.text(value, path).upper()
        character = {p.code for p in (*schema.PARAMS.values(), *schema.DERIVED_PARAMS.values())
                     if p.character}
        if numeric and code in character:
            raise self.fail(path, f"{code} is a character parameter; it has no numeric value.",
                            "use a numeric parameter such as PF, SPO2 or WHOCPS.")
        if not code.replace("_", "").isalnum():
            raise self.fail(path, f"{value!r} is not a parameter code.",
                            "use a PARAMCD such as PF, SF, SPO2, WHOCPS, IL6.")
        return code

    def repeated_days(self, value: Any, path: str, target: int) -> tuple[int, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a list of post-baseline days.", "e.g. days = [3, 5, 7]")
        days = tuple(self.day(d, f"{path}[{i}]") for i, d in enumerate(value))
        if any(d < 2 for d in days) or len(set(days)) != len(days) or list(days) != sorted(days):
            raise self.fail(path, "must be distinct post-baseline days in increasing order.",
                            "e.g. days = [3, 5, 7]")
        if target not in days:
            raise self.fail(path, f"does not contain the target day {target}.",
                            f"add {target} to days, or change day.")
        for i, d in enumerate(days):
            self.ranged("days", d, f"{path}[{i}]")
        return days

    def event(self, value: Any, path: str) -> EventRule:
        if not isinstance(value, Mapping) or len(value) != 1 or \
                next(iter(value)) not in ("any", "all"):
            raise self.fail(path, "must be `event.any = [...]` or `event.all = [...]`.",
                            'e.g. event.any = [ { state = "discharged" } ]')
        mode, items = next(iter(value.items()))
        if not isinstance(items, list) or not items:
            raise self.fail(f"{path}.{mode}", "must be a non-empty list of conditions.",
                            'e.g. event.any = [ { state = "discharged" } ]')
        parsed = []
        for i, item in enumerate(items):
            where = f"{path}.{mode}[{i}]"
            if isinstance(item, Mapping) and set(item) & {"any", "all"}:
                parsed.append(self.event(item, where))
            else:
                parsed.append(self.condition(item, where))
        return EventRule(mode, tuple(parsed))

    def condition(self, t: Any, path: str) -> Condition:
        self.keys(t, path, CONDITION_KEYS)
        kinds = [k for k in ("param", "state", "ae") if k in t]
        if len(kinds) != 1:
            raise self.fail(path, "a condition names exactly one of param, state or ae.",
                            '{ param = "PF", op = ">", value = 300 } or { state = "dead" }')
        if "state" in t or "ae" in t:
            extra = set(t) - {kinds[0]}
            if extra:
                raise self.fail(f"{path}.{sorted(extra)[0]}", f"does not go with {kinds[0]}.",
                                f"a {kinds[0]} condition has no other key; remove it.")
            if "state" in t:
                return Condition(state=self.choice(t["state"], f"{path}.state", schema.STATES))
            return Condition(ae=self.choice(t["ae"], f"{path}.ae", AE_KINDS))
        param = self.param(t["param"], f"{path}.param", numeric=False)
        if "op" not in t:
            raise self.fail(f"{path}.op", "is required with param.", 'add op = "<=" (or <, >, >=, ==, !=).')
        op = self.choice(t["op"], f"{path}.op", schema.CONDITION_OPS)
        if ("value" in t) == ("chg" in t):
            raise self.fail(path, "give exactly one of value (that day) or chg (from baseline).",
                            "keep value or chg, not both.")
        on = None
        if "on" in t:
            on = self.choice(str(t["on"]).upper(), f"{path}.on", schema.OXYDEV_CODES)
        if "chg" in t:
            if param == "OXYDEV":
                raise self.fail(f"{path}.chg", "OXYDEV has no change from baseline.",
                                'compare its value instead, e.g. { param = "OXYDEV", op = "<=", '
                                'value = "NC" }.')
            return Condition(param=param, op=op, chg=self.ranged("chg", t["chg"], f"{path}.chg"),
                             on=on)
        value = t["value"]
        if param == "OXYDEV":
            code = str(value).upper()
            self.choice(code, f"{path}.value", schema.OXYDEV_CODES)
            return Condition(param=param, op=op, value=float(schema.OXYDEV_RANK[code]), on=on)
        return Condition(param=param, op=op, value=self.ranged("value", value, f"{path}.value"),
                         on=on)

    # -- analyses ----------------------------------------------------------
    def analysis(self, t: Mapping, path: str, endpoints: Mapping[str, Endpoint],
                 study: Study) -> Analysis:
        path = _named(t, path, "analysis")
        self.keys(t, path, ANALYSIS_KEYS + ANALYSIS_OPTIONS, ANALYSIS_KEYS)
        analysis_id = self.text(t["id"], f"{path}.id")
        method = self.choice(t["method"], f"{path}.method", tuple(METHODS))
        spec = METHODS[method]
        endpoint_id = self.reference(t["endpoint"], f"{path}.endpoint", "[[endpoint]]")
        if endpoint_id not in endpoints:
            raise self.fail(f"{path}.endpoint", f"names {endpoint_id!r}, which no [[endpoint]] declares.",
                            f"use one of: {', '.join(endpoints)}.")
        endpoint = endpoints[endpoint_id]
        if endpoint.kind not in spec.kinds:
            raise self.fail(f"{path}.method", f"{method} does not fit the {endpoint.kind} endpoint "
                            f"{endpoint_id!r}.", f"for {endpoint.kind} endpoints use one of: "
                            f"{', '.join(m for m, s in METHODS.items() if endpoint.kind in s.kinds)}.")
        options = {k: v for k, v in t.items() if k not in ("id", "endpoint", "method")}
        for key in options:
            if key not in spec.options:
                raise self.fail(f"{path}.{key}", f"is not an option of method {method}.",
                                f"{method} takes: {', '.join(spec.options) or 'no options'}.")
        for key in spec.required:
            if key not in options:
                raise self.fail(f"{path}.{key}", f"is required by method {method}.",
                                f"add `{key} = ...`.")
        checked = {k: self.option(k, v, f"{path}.{k}") for k, v in sorted(options.items())}
        self.method_fits(method, endpoint, checked, study, path)
        check_strategy_fits(endpoint, method, checked, path, self.fail)
        return Analysis(analysis_id, endpoint_id, method, checked)

    def option(self, key: str, value: Any, path: str) -> Any:
        check = OPTIONS[key]           # how specs.OPTIONS says this option is checked
        if check == "columns":
            return self.model_columns(value, path)
        if check == "days":
            if not isinstance(value, list) or not value:
                raise self.fail(path, "must be a list of days.", "e.g. landmarks = [7, 14, 28]")
            return tuple(self.ranged(key, v, f"{path}[{i}]") for i, v in enumerate(value))
        if check == "deltas":
            return self.deltas(value, path)
        if check == "covariances":
            return self.covariances(value, path)
        if check == "range":
            return self.ranged(key, value, path)
        if isinstance(check, tuple):
            return self.choice(value, path, check)
        return self.text(value, path)  # title

    def covariances(self, value: Any, path: str) -> str | tuple[str, ...]:
        """An MMRM covariance, or a list of them tried in order until one converges."""
        if isinstance(value, str):
            return self.choice(value, path, schema.COVARIANCES)
        if not isinstance(value, list) or not value:
            raise self.fail(path, "must be a covariance structure or a list of them.",
                            'e.g. covariance = ["unstructured", "toeplitz", "ar1", "cs"] '
                            f"(structures: {', '.join(schema.COVARIANCES)}).")
        names = tuple(self.choice(v, f"{path}[{i}]", schema.COVARIANCES)
                      for i, v in enumerate(value))
        if len(set(names)) != len(names):
            raise self.fail(path, "names a covariance twice.", "list each structure once.")
        return names

    def deltas(self, value: Any, path: str) -> tuple[float, ...]:
        if not isinstance(value, list) or not value or len(value) > MAX_DELTAS or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                for v in value):
            raise self.fail(path, f"must be a list of 1 to {MAX_DELTAS} finite numbers.",
                            "e.g. deltas = [-60, -40, -20, 0] (shifts of the treated arm's "
                            "imputed values, in the endpoint's unit).")
        if len(set(value)) != len(value):
            raise self.fail(path, "names a shift twice.", "list each delta once.")
        return tuple(float(v) for v in value)

    def missing_data_fits(self, method: str, endpoint: Endpoint, options: Mapping,
                          path: str) -> None:
        """missing = "mi" and the tipping point's keys where they apply (DESIGN.md 9)."""
        mi = options.get("missing") == "mi"
        if method == "tipping_point":
            if "missing" in options:
                raise self.fail(f"{path}.missing", "does not apply to tipping_point (it imputes "
                                "by itself).", "remove missing from this analysis.")
            continuous = endpoint.kind != "binary"
            for key, applies in (("deltas", continuous), ("imputations", continuous),
                                 ("mi_reference", continuous), ("covariates", continuous),
                                 ("strata", continuous), ("test", not continuous)):
                if key in options and not applies:
                    raise self.fail(f"{path}.{key}", f"does not apply to a tipping point of a "
                                    f"{endpoint.kind} endpoint.", f"remove {key}.")
            if continuous and "deltas" not in options:
                raise self.fail(f"{path}.deltas", "is required for a tipping point of a "
                                f"{endpoint.kind} endpoint.", "add e.g. deltas = [-40, -20, 0].")
            return
        if mi and endpoint.kind not in ("change", "value"):
            fix = {"time_to_event": "censoring already handles incomplete follow-up: remove "
                   "missing = \"mi\".", "binary": "remove missing = \"mi\"; for the "
                   "sensitivity to missing outcomes use method = \"tipping_point\"."}
            raise self.fail(f"{path}.missing", f"multiple imputation applies to change and value "
                            f"endpoints; {endpoint.id!r} is {endpoint.kind}.",
                            fix.get(endpoint.kind, "remove missing = \"mi\"."))
        if mi and method not in MI_METHODS:
            why = ("mmrm already uses every observed value under missing at random (likelihood)"
                   if method == "mmrm" else f"{method} has no estimate with a variance that "
                   "Rubin's rules can pool (rank or permutation test)")
            raise self.fail(f"{path}.missing", f"\"mi\" is not available for {method}: {why}.",
                            f"use method {', '.join(MI_METHODS)} with missing = \"mi\", or "
                            "remove missing.")
        for key in ("imputations", "mi_reference"):
            if key in options and not mi:
                raise self.fail(f"{path}.{key}", "applies only with missing = \"mi\".",
                                f"add missing = \"mi\" or remove {key}.")
        if "mi_reference" in options and method == "paired":
            raise self.fail(f"{path}.mi_reference", "a paired analysis has no arm comparison to "
                            "refer to.", "remove mi_reference.")

    def method_fits(self, method: str, endpoint: Endpoint, options: Mapping, study: Study,
                    path: str) -> None:
        spec = METHODS[method]
        self.missing_data_fits(method, endpoint, options, path)
        n_arms = len(study.arms)
        if spec.arms == "two_or_more" and n_arms < 2:
            raise self.fail(f"{path}.method", f"{method} compares arms, but study.arms has one.",
                            "for a single-arm study use paired, binary, km, rmst or cuminc.")
        if spec.arms == "two" and n_arms != 2:
            raise self.fail(f"{path}.method", f"{method} needs exactly two arms; the study has "
                            f"{n_arms}.", "use it on a two-arm study.")
        if method == "mmrm" and not endpoint.repeated:
            raise self.fail(f"{path}.method", f"mmrm needs a repeated endpoint; {endpoint.id!r} "
                            "has no days list.", "add days = [...] to the endpoint.")
        if method in ("cuminc", "finegray") and endpoint.death != "competing":
            raise self.fail(f"{path}.method", f"{method} needs death as a competing event, but "
                            f"endpoint {endpoint.id!r} has death = {endpoint.death!r}.",
                            'declare an endpoint with death = "competing" for this analysis.')
        if "tau" in options and endpoint.horizon and options["tau"] > endpoint.horizon:
            raise self.fail(f"{path}.tau", f"{options['tau']} is beyond the endpoint's horizon "
                            f"{endpoint.horizon}.", "choose tau <= horizon.")
        beyond = [d for d in options.get("landmarks", ()) if endpoint.horizon and
                  d > endpoint.horizon]
        if beyond:
            raise self.fail(f"{path}.landmarks", f"{beyond[0]} is beyond the endpoint's horizon "
                            f"{endpoint.horizon}.", "choose landmarks <= horizon.")
        if method == "permutation":
            fits = PERMUTATION_STATISTIC_KINDS
            statistic = options.get("statistic", default_permutation_statistic(endpoint.kind))
            if options.get("covariates") and statistic != "ancova":
                raise self.fail(f"{path}.covariates", f"only the ancova statistic adjusts for "
                                f"covariates; this analysis uses {statistic}.",
                                'set statistic = "ancova" or remove covariates.')
            if endpoint.kind not in fits[statistic]:
                raise self.fail(f"{path}.statistic", f"{statistic} does not fit the "
                                f"{endpoint.kind} endpoint {endpoint.id!r}.",
                                f"use one of: {', '.join(s for s, k in fits.items() if endpoint.kind in k)}.")

    # -- multiplicity ------------------------------------------------------
    def multiplicity(self, t: Mapping, analyses: tuple[Analysis, ...]) -> Multiplicity:
        self.keys(t, "multiplicity", MULTIPLICITY_KEYS)
        method = self.choice(t.get("method", "none"), "multiplicity.method",
                             schema.MULTIPLICITY_METHODS)
        family = self.string_list(t.get("family", []), "multiplicity.family")
        known = {a.id: a for a in analyses}
        for i, name in enumerate(family):
            if name not in known:
                raise self.fail(f"multiplicity.family[{i}]", f"names {name!r}, which no "
                                "[[analysis]] declares.", f"use analysis ids: {', '.join(known)}.")
            if known[name].method in ("km", "cuminc"):
                raise self.fail(f"multiplicity.family[{i}]", f"{name!r} ({known[name].method}) "
                                "has no comparison p-value to adjust.",
                                "put the logrank, cox or finegray analysis in the family instead.")
        if len(set(family)) != len(family):
            raise self.fail("multiplicity.family", "names an analysis twice.",
                            "list each analysis id once.")
        return Multiplicity(method, family)


def _toml_type(value: Any) -> str:
    return ("a list" if isinstance(value, list) else "a table" if isinstance(value, Mapping)
            else repr(value))


def _named(table: Any, path: str, section: str) -> str:
    """endpoint[2] -> endpoint[pf_d7] once the entry's id is known: easier to find."""
    if isinstance(table, Mapping) and isinstance(table.get("id"), str) and table["id"]:
        return f"{section}[{table['id']}]"
    return path


ANALYSIS_OPTIONS = tuple(sorted({o for s in METHODS.values() for o in s.options}))
MAX_IMPUTATIONS, MAX_DELTAS = schema.MAX_IMPUTATIONS, schema.MAX_DELTAS

def template_text(key: str) -> str:
    """The template SAP of a design (DESIGN.md section 1), as TOML text."""
    from importlib.resources import files
    if key not in schema.DESIGN_KEYS:
        raise SapError("design", f"unknown design key {key!r}.",
                       f"use one of: {', '.join(schema.DESIGN_KEYS)}.")
    return files("mscstats").joinpath("sap_templates", f"{key}.toml").read_text("utf-8")


def template(key: str) -> Sap:
    return parse_sap(template_text(key), source=f"{key}.toml")
