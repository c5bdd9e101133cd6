"""Compare two results.json documents analysis by analysis.

Numbers agree when |new - old| <= atol + rtol * |old|; everything else must be
equal. Besides the analyses, the data-quality log, the manifest and the summaries
(baseline, flow, safety, course) are compared. Lists of named things (comparisons, tests, curves) are matched by name,
not position, so a reordering is not a change. The manifest's package versions
and the mscstats version are not compared: they describe the machine, not the
trial.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import MscstatsError
from .results import SUMMARY_KEYS

__all__ = ["Change", "ResultsDiff", "diff_results", "diff_files", "format_diff"]

IGNORED = ("mscstats_version", "manifest.packages")


@dataclass(frozen=True)
class Change:
    analysis: str          # analysis id, or "data_quality" / "manifest"
    field: str             # path inside it, e.g. comparisons[UC-MSC vs control: hazard_ratio].estimate
    kind: str              # "changed" | "appeared" | "vanished"
    old: Any = None
    new: Any = None

    @property
    def relative_change(self) -> float | None:
        if not (_is_number(self.old) and _is_number(self.new)) or self.old == 0:
            return None
        return (self.new - self.old) / abs(self.old)


@dataclass(frozen=True)
class ResultsDiff:
    changes: tuple[Change, ...]
    rtol: float
    atol: float

    @property
    def equal(self) -> bool:
        return not self.changes

    def __str__(self) -> str:
        return format_diff(self)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _label(item: Any, index: int) -> str:
    """A stable name for an element of a list of records."""
    if not isinstance(item, dict):
        return str(index)
    if "arm" in item and "estimand" in item:
        ref = f" vs {item['reference']}" if item.get("reference") else ""
        return f"{item['arm']}{ref}: {item['estimand']}"
    if "arm" in item and "kind" in item:
        return f"{item['arm']}: {item['kind']}"
    if "soc" in item and "term" in item:                 # an adverse-event row
        return f"{item['soc']}{' / ' + item['term'] if item['term'] else ''}"
    if "subject" in item and "event" in item:            # a listing row
        return f"{item['subject']} day {item['day']}: {item['event']}"
    if "arm" in item and "day" in item and "reason" in item:   # missing values
        return f"{item['arm']} day {item['day']}: {item['reason']}"
    for key in ("id", "name", "arm", "endpoint", "file", "param", "grade", "day"):
        if key in item:
            extra = "/".join(str(item[k]) for k in ("column", "rule", "reason", "message")
                             if item.get(k) is not None)
            return f"{item[key]}{' ' + extra if extra else ''}"
    return str(index)


def _flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            name = _label(item, i)
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name} #{seen[name]}"
            yield from _flatten(item, f"{path}[{name}]")
    else:
        yield path, value


def _same(old: Any, new: Any, rtol: float, atol: float) -> bool:
    if _is_number(old) and _is_number(new):
        if math.isnan(old) or math.isnan(new):
            return math.isnan(old) and math.isnan(new)
        return abs(new - old) <= atol + rtol * abs(old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b, rtol, atol) for a, b in zip(old, new))
    return old == new


def _compare(section: str, old: Any, new: Any, rtol: float, atol: float) -> list[Change]:
    old_fields, new_fields = dict(_flatten(old)), dict(_flatten(new))
    changes = []
    for name in sorted(set(old_fields) | set(new_fields)):
        if any(f"{section}.{name}".startswith(p) or name.startswith(p) for p in IGNORED):
            continue
        if name not in new_fields:
            changes.append(Change(section, name, "vanished", old=old_fields[name]))
        elif name not in old_fields:
            changes.append(Change(section, name, "appeared", new=new_fields[name]))
        elif not _same(old_fields[name], new_fields[name], rtol, atol):
            changes.append(Change(section, name, "changed", old_fields[name], new_fields[name]))
    return changes


def diff_results(old: dict, new: dict, rtol: float = 1e-6, atol: float = 1e-9) -> ResultsDiff:
    old_analyses = {a["id"]: a for a in old.get("analyses", [])}
    new_analyses = {a["id"]: a for a in new.get("analyses", [])}
    changes: list[Change] = []
    for analysis_id in old_analyses:
        if analysis_id not in new_analyses:
            changes.append(Change(analysis_id, "", "vanished"))
    for analysis_id in new_analyses:
        if analysis_id not in old_analyses:
            changes.append(Change(analysis_id, "", "appeared"))
        else:
            changes += _compare(analysis_id, old_analyses[analysis_id],
                                new_analyses[analysis_id], rtol, atol)
    for section in ("data_quality", "manifest", *SUMMARY_KEYS):
        changes += _compare(section, old.get(section, {}), new.get(section, {}), rtol, atol)
    return ResultsDiff(tuple(changes), rtol, atol)


def _read(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise MscstatsError(f"{path}: not a results.json file ({err}).") from None


def diff_files(old: str | Path, new: str | Path, rtol: float = 1e-6,
               atol: float = 1e-9) -> ResultsDiff:
    return diff_results(_read(old), _read(new), rtol, atol)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def format_diff(diff: ResultsDiff) -> str:
    """A plain-text table: analysis, field, old, new, relative change."""
    if diff.equal:
        return f"results agree (rtol {diff.rtol:g}, atol {diff.atol:g})"
    rows = [("analysis", "field", "old", "new", "relative change")]
    for c in diff.changes:
        field = c.field or "(whole analysis)"
        if c.kind == "changed":
            rel = c.relative_change
            rows.append((c.analysis, field, _show(c.old), _show(c.new),
                         "" if rel is None else f"{rel:+.3g}"))
        else:
            rows.append((c.analysis, field, _show(c.old) if c.kind == "vanished" else "",
                         _show(c.new) if c.kind == "appeared" else "", c.kind))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    head = (f"{len(diff.changes)} difference{'s' if len(diff.changes) != 1 else ''} "
            f"(rtol {diff.rtol:g}, atol {diff.atol:g}):")
    return head + "\n" + "\n".join(lines)
