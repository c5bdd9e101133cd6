"""Validation of visits: values, units and ranges per parameter, then records,
duplicates and the canonical visits frame."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from .. import schema
from .io import ROW, RawTable
from .validate_cells import (_BELOW_NUMBER, _BELOW_WORDS, _LLOQ_RULES, MAX_DUPLICATE_REASONS,
                             _Cells, _Check, _days, _Ledger, _missing_columns, _numbers,
                             _parse_numbers, _sorted_codes, _times)
from .study_days import FOLLOW_UP_MARGIN, beyond_follow_up
from .validate_tables import _after_death, _require_text, _Subjects, _subjects_of

# ---------------------------------------------------------------------------
# visits: values, units and ranges, one parameter at a time
# ---------------------------------------------------------------------------

class _Flags:
    """FLAG labels as bits, so a record's flags stay one integer until the end."""

    def __init__(self):
        self.labels: list[str] = []

    def bit(self, label: str) -> int:
        if label not in self.labels:
            self.labels.append(label)
        return 1 << self.labels.index(label)

    def text(self, bits: np.ndarray) -> np.ndarray:
        """";"-joined labels: conversions first, then below_lloq, out_of_range, aggregated."""
        kinds = ("converted", "below_lloq", "out_of_range", "aggregated")
        order = sorted(range(len(self.labels)),
                       key=lambda k: (kinds.index(self.labels[k].split(":")[0]), self.labels[k]))
        codes, uniques = pd.factorize(bits)
        names = np.array([";".join(self.labels[k] for k in order if int(u) >> k & 1)
                          for u in uniques], dtype=object)
        return names[codes] if len(bits) else np.array([], dtype=object)


def _below_forms(labels: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct text: the x of a "<x" result (NaN if none), and "<LLOQ"-style words."""
    upper = pd.Series(labels, dtype=object).str.upper()
    word = upper.isin(_BELOW_WORDS).to_numpy()
    limit = np.full(len(labels), np.nan)
    for k in np.flatnonzero(upper.str.startswith("<").to_numpy() & ~word):
        match = _BELOW_NUMBER.match(upper.iat[k])
        if match:
            limit[k] = _parse_numbers(np.array([match[1]], dtype=object), decimal_comma)[0][0]
    return limit, word


def _scale(values: np.ndarray, factor: float) -> np.ndarray:
    """Convert to the canonical unit; dividing by 100 rounds better than multiplying by 0.01."""
    inverse = 1.0 / factor
    if factor < 1 and abs(inverse - round(inverse)) < 1e-9:
        return values / round(inverse)
    return values * factor


def _range_text(low: float, high: float) -> str:
    return f">= {low:g}" if math.isinf(high) else f"{low:g}-{high:g}"


_CHARACTER = tuple(code for code, p in schema.PARAMS.items() if p.character)


def _oxydev_code(text: str) -> str | None:
    if text.upper() in schema.OXYDEV_RANK:
        return text.upper()
    key = " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
    return schema.OXYDEV_SPELLINGS.get(key)


class _VisitValues:
    """AVAL, AVALC, AVALU and LLOQ of the visit records, read into canonical form.

    ``read(param, idx)`` handles the records ``idx`` of one parameter: picks the
    value, converts the unit, checks ranges and sets below-LLOQ results. Errors go
    to the problem list; records without a value are dropped through the ledger.
    """

    def __init__(self, table: RawTable, chk: _Check, ledger: _Ledger, flags: _Flags):
        frame, n, comma = table.frame, len(table.frame), table.decimal_comma
        self.table, self.chk, self.ledger, self.flags = table, chk, ledger, flags
        self.rows = frame[ROW].to_numpy()
        self.aval = _Cells(frame.get("AVAL"), n, decimal_comma=comma)
        self.avalc = _Cells(frame.get("AVALC"), n)
        unit = _Cells(frame.get("AVALU"), n)
        normal = np.array([u.lower().replace(" ", "") for u in unit.labels], dtype=object)
        codes, self.unit_names = pd.factorize(normal)      # units equal once normalised
        self.unit = codes[unit.codes]
        self.unit_shown = {u: unit.labels[np.flatnonzero(normal == u)[0]] for u in self.unit_names}
        self.below_c = _below_forms(self.avalc.labels, comma)
        self.value = np.full(n, np.nan)
        self.text = np.full(n, "", dtype=object)
        self.lloq = _numbers(table, "LLOQ", chk)
        self.below = np.zeros(n, dtype=bool)
        self.used = np.ones(n, dtype=bool)
        self.bits = np.zeros(n, dtype=np.int64)

    @cached_property
    def below_a(self) -> tuple[np.ndarray, np.ndarray]:
        return _below_forms(self.aval.labels, self.table.decimal_comma)

    # -- helpers ----------------------------------------------------------
    def column(self, param: str, column: str) -> str:
        """The file's column a message should name (a wide file has one per parameter)."""
        return param if self.table.wide else column

    def error(self, sel: np.ndarray, column: str, message: str, fix: str, values=()) -> None:
        self.chk.problems.add(self.table.file, column, message, fix, self.rows[sel], values)

    def convert(self, sel: np.ndarray, column: str, rule: str, flag: str, param: str) -> None:
        self.chk.log.convert(self.table.file, column, rule, self.rows[sel], param=param)
        self.bits[sel] |= self.flags.bit(flag)

    def drop(self, sel: np.ndarray, reason: str, column: str) -> None:
        self.used[sel] = False
        self.ledger.drop(self.rows[sel], reason, column)

    # -- one parameter ----------------------------------------------------
    def read(self, param: str, idx: np.ndarray) -> None:
        spec = schema.PARAMS.get(param)
        if spec is None:
            self._unknown_parameter(param, idx)
        if param in _CHARACTER:
            self._character(param, idx)
        else:
            self._numeric(param, spec, idx)
        idx = idx[self.used[idx]]
        self._units(param, spec, idx)
        if param == "FIO2":
            self._fio2_without_unit(idx)
        if param == "PAO2":
            self._pao2_without_unit(idx)
        if spec is not None and not spec.character:
            self._ranges(param, spec, idx)
        self._impute_below(param, idx)

    def _unknown_parameter(self, param: str, idx: np.ndarray) -> None:
        """Other laboratory values (CRP, ferritin...) pass through; one spelled like a
        parameter mscstats knows is probably that parameter misspelled: say so."""
        import difflib
        close = difflib.get_close_matches(param, list(schema.PARAMS), n=1, cutoff=0.8)
        if close:
            self.chk.log.warn(self.table.file, f"{param} is not a parameter mscstats knows "
                              f"(kept as another laboratory value): did you mean {close[0]}? "
                              f"If so, rename it to {close[0]}", self.rows[idx],
                              self.column(param, "PARAMCD"))

    def _numeric(self, param: str, spec: schema.Param | None, idx: np.ndarray) -> None:
        laboratory = spec is None or spec.cytokine        # "<x" results accepted
        number, bad = self.aval.number(idx), self.aval.bad(idx)
        has_c = ~self.avalc.blank(idx)
        c_code = self.avalc.codes[idx]
        limit = np.where(has_c, self.below_c[0][c_code], np.nan)
        word = has_c & self.below_c[1][c_code]
        raw_text = self.avalc.text(idx)          # the text result: AVALC, else AVAL's text
        from_a = bad & ~has_c
        if from_a.any():
            a_code = self.aval.codes[idx[from_a]]
            limit[from_a], word[from_a] = self.below_a[0][a_code], self.below_a[1][a_code]
            raw_text[from_a] = self.aval.labels[a_code]
        below_text = laboratory & (np.isfinite(limit) | word)
        has_number, c_number = np.isfinite(number), self.avalc.number(idx)
        from_c = ~has_number & ~bad & ~below_text & np.isfinite(c_number)
        c_text = ~has_number & ~bad & has_c & ~below_text & ~np.isfinite(c_number)
        self._value_errors(param, spec, idx, bad & ~below_text, c_text if spec else None)
        self.value[idx] = np.where(has_number, number, c_number)
        self.text[idx] = np.where(below_text | (c_text & (spec is None)), raw_text, "")
        lloq = np.where(below_text & np.isfinite(limit), limit, self.lloq[idx])
        below = below_text | (laboratory & has_number & (number < lloq))
        self.lloq[idx], self.below[idx] = lloq, below
        if (below & np.isnan(lloq)).any():
            self.error(idx[below & np.isnan(lloq)], "LLOQ", f"{param} result below the LLOQ, "
                       "but no LLOQ is given.", "fill the LLOQ column, or write the result as "
                       "'<' and the limit (e.g. '<1.5').")
        if from_c.any():
            self.convert(idx[from_c], "AVALC", f"{param} value read from AVALC (AVAL empty)",
                         "converted:AVALC", param)
        nothing = ~has_number & ~bad & ~has_c
        self.drop(idx[nothing], "no value: AVAL and AVALC are empty", self.column(param, "AVAL"))

    def _value_errors(self, param: str, spec, idx: np.ndarray, bad_aval: np.ndarray,
                      text_only: np.ndarray | None) -> None:
        lab = " (a result below the LLOQ as '<' and the limit)" if spec is None or spec.cytokine \
            else ""
        if bad_aval.any() and self.table.wide:
            self.error(idx[bad_aval], param, f"{param}: the value is not a number (every column "
                       "of a wide visits file but USUBJID, ADY and ATM is read as a parameter).",
                       f"write a number{lab} in {param}; remove the column if it is not a "
                       "parameter, or give text results in the long layout (PARAMCD, AVAL, "
                       "AVALC).", self.aval.text(idx[bad_aval]))
        elif bad_aval.any():
            self.error(idx[bad_aval], self.column(param, "AVAL"), f"{param}: the value is not a "
                       "number.", f"write a number{lab} in {self.column(param, 'AVAL')}; text "
                       "results go in AVALC.", self.aval.text(idx[bad_aval]))
        if text_only is not None and text_only.any():
            self.error(idx[text_only], "AVALC", f"{param} needs a number, but AVAL is empty and "
                       "AVALC holds text.", f"write the number in AVAL{lab}.",
                       self.avalc.text(idx[text_only]))

    def _character(self, param: str, idx: np.ndarray) -> None:
        text = self.avalc.text(idx)
        from_a = text == ""
        text[from_a] = self.aval.text(idx[from_a])
        nothing = text == ""
        self.drop(idx[nothing], "no value: AVAL and AVALC are empty",
                  self.column(param, "AVALC"))
        codes, uniques = pd.factorize(text)
        mapped = np.array([_oxydev_code(u) or "" for u in uniques], dtype=object)
        code = mapped[codes] if len(text) else np.array([], dtype=object)
        unknown = ~nothing & (code == "")
        if unknown.any():
            self.error(idx[unknown], self.column(param, "AVALC"), f"{param} value not recognised.",
                       f"use one of {', '.join(schema.OXYDEV_CODES)} or a common spelling "
                       "('room air', 'nasal cannula', 'high flow', 'CPAP', 'intubated').",
                       text[unknown])
        respelled = ~unknown & ~nothing & (code != text)
        for target in sorted(set(code[respelled])):
            sel = respelled & (code == target)
            spellings = sorted(set(text[sel]))
            shown = ", ".join(repr(s) for s in spellings[:5]) + (
                f" and {len(spellings) - 5} more" if len(spellings) > 5 else "")
            self.convert(idx[sel], self.column(param, "AVALC"), f"{param} {shown} -> {target}",
                         "converted:spelling", param)
        self.text[idx] = code

    def _units(self, param: str, spec: schema.Param | None, idx: np.ndarray) -> None:
        unit = self.unit[idx]
        counts = np.bincount(unit, minlength=len(self.unit_names))
        present = [u for u in np.flatnonzero(counts) if self.unit_names[u] != ""]
        if spec is None:
            self._pass_through_units(param, idx, unit, present)
            return
        canonical = spec.unit.lower().replace(" ", "")
        for u in present:
            name, sel = self.unit_names[u], idx[unit == u]
            factor = spec.units.get(name)
            if name == canonical:
                continue
            if factor is None:
                accepted = ", ".join([spec.unit, *(u for u in spec.units if u != canonical)])
                self.error(sel, "AVALU", f"{param}: unit not known.",
                           f"use one of: {accepted}, or leave AVALU empty for {spec.unit}."
                           if spec.units else f"leave AVALU empty for {param}.",
                           [self.unit_shown[name]])
                continue
            self.value[sel] = _scale(self.value[sel], factor)
            self.lloq[sel] = _scale(self.lloq[sel], factor)
            shown = self.unit_shown[name]
            self.convert(sel, "AVALU", f"{param} {shown} x {factor:g} -> {spec.unit}",
                         f"converted:{shown}", param)

    def _pass_through_units(self, param: str, idx: np.ndarray, unit: np.ndarray,
                            present: list) -> None:
        shown = [self.unit_shown[self.unit_names[u]] for u in present]
        if len(present) > 1:
            self.error(idx[np.isin(unit, present)], "AVALU", f"{param} is given in several "
                       "units; mscstats converts only the units of the parameters it knows.",
                       f"give {param} in one unit.", shown)
        elif present:
            self.chk.log.notes.append(f"{self.table.file}: {param} in {shown[0]} (passed through, "
                                      "not converted)")

    def _without_unit(self, idx: np.ndarray) -> np.ndarray:
        keep = (self.unit_names[self.unit[idx]] == "") & np.isfinite(self.value[idx]) \
            & ~self.below[idx]
        return idx[keep]

    def _fio2_without_unit(self, idx: np.ndarray) -> None:
        """FIO2 21-100 without a unit can only be percent; 1-21 is neither (an error)."""
        sel = self._without_unit(idx)
        value = self.value[sel]
        percent = sel[(value >= 21) & (value <= 100)]
        if len(percent):
            self.value[percent] = self.value[percent] / 100
            self.convert(percent, self.column("FIO2", "AVALU"),
                         "FIO2 without unit, 21-100 read as percent x 0.01 -> fraction",
                         "converted:percent", "FIO2")
        between = (value > 1) & (value < 21)
        if between.any():
            self.error(sel[between], self.column("FIO2", "AVAL"), "FIO2 between 1 and 21 "
                       "without a unit: neither a fraction (0.21-1.0) nor a percentage (21-100).",
                       "give FIO2 as a fraction 0.21-1.0, or as a percentage with AVALU %.",
                       value[between])

    def _pao2_without_unit(self, idx: np.ndarray) -> None:
        """PaO2 without a unit whose median is under 25 is almost surely kPa: an error."""
        sel = self._without_unit(idx)
        if len(sel) and np.median(self.value[sel]) < schema.PAO2_KPA_SUSPECT_MEDIAN:
            median = float(np.median(self.value[sel]))
            self.error(sel, self.column("PAO2", "AVALU"), f"PAO2 without a unit has median "
                       f"{median:g}, plausible only in kPa (PaO2 in mmHg is 20-700); mscstats "
                       "does not guess.", "set AVALU to kPa for these rows (converted x 7.50062 "
                       "to mmHg), or to mmHg if they really are mmHg.")

    def _ranges(self, param: str, spec: schema.Param, idx: np.ndarray) -> None:
        """Errors outside the possible range (below-LLOQ numbers too); warnings outside the
        plausible range (results below the LLOQ are not measured values: no warning)."""
        sel = idx[np.isfinite(self.value[idx])]
        value, column = self.value[sel], self.column(param, "AVAL")
        unit = f" {spec.unit}" if spec.unit else ""
        negative = idx[self.lloq[idx] < 0]
        if len(negative):
            self.error(negative, "LLOQ", f"{param}: the LLOQ is negative.",
                       "a limit of quantification is a positive concentration.",
                       self.lloq[negative])
        if spec.hard:
            low, high = spec.hard
            out = (value < low - 1e-9) | (value > high + 1e-9)
            if out.any():
                self.error(sel[out], column, f"{param} outside the possible range "
                           f"{_range_text(low, high)}{unit} (after unit conversion).",
                           f"correct the value or its unit (AVALU); {param} is "
                           f"{_range_text(low, high)}{unit}.", value[out])
        if spec.integer and (value % 1 != 0).any():
            whole = value % 1 != 0
            self.error(sel[whole], column, f"{param} is not a whole number.",
                       f"{param} is an integer score.", value[whole])
        if spec.plausible and spec.plausible != spec.hard:
            low, high = spec.plausible
            out = ((value < low) | (value > high)) & ~self.below[sel]
            if out.any():
                self.chk.log.warn(self.table.file, f"{param} outside the plausible range "
                                  f"{_range_text(low, high)}{unit}: kept, flagged out_of_range",
                                  self.rows[sel[out]], column)
                self.bits[sel[out]] |= self.flags.bit("out_of_range")

    def _impute_below(self, param: str, idx: np.ndarray) -> None:
        sel = idx[self.below[idx]]
        if not len(sel):
            return
        label, factor = _LLOQ_RULES[self.chk.below_lloq]
        self.value[sel] = self.lloq[sel] * factor
        self.bits[sel] |= self.flags.bit("below_lloq")
        self.chk.log.warn(self.table.file, f"{param} below the LLOQ: set to {label}, flagged "
                          "below_lloq", self.rows[sel], self.column(param, "AVALC"))


def _groups(codes: np.ndarray):
    """(code, indices) for each distinct code, in code order."""
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for chunk in np.split(order, bounds) if len(order) else []:
        yield codes[chunk[0]], chunk


# ---------------------------------------------------------------------------
# visits: records, duplicates, canonical frame
# ---------------------------------------------------------------------------

@dataclass
class _Records:
    """Visit records as parallel arrays (codes index the sorted labels)."""
    subject: np.ndarray
    day: np.ndarray
    time: np.ndarray
    param: np.ndarray
    value: np.ndarray
    text: np.ndarray
    lloq: np.ndarray
    bits: np.ndarray
    row: np.ndarray

    def select(self, which: np.ndarray) -> None:
        """Keep (or reorder to) the records ``which``, one array at a time to spare memory."""
        for name, values in list(vars(self).items()):
            setattr(self, name, values[which])


@dataclass(frozen=True)
class _Labels:
    subject: np.ndarray
    time: np.ndarray
    param: np.ndarray


def _lex_key(*codes: np.ndarray) -> np.ndarray:
    """One int64 per row ordering rows like the tuple of codes (all codes >= 0)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for code in codes:
        size = int(code.max()) + 1 if len(code) else 1
        if len(key) and int(key.max()) >= (1 << 62) // size:
            key = pd.factorize(key, sort=True)[0].astype(np.int64)
        key = key * size + code.astype(np.int64)
    return key


def _day_codes(day: np.ndarray) -> np.ndarray:
    return pd.factorize(day, sort=True)[0]


# +1: the lowest value is the worst (PAO2, SPO2, PF); -1: the highest (the default).
_WORST_SIGN = {code: (1 if p.worst == "min" else -1)
               for code, p in {**schema.PARAMS, **schema.DERIVED_PARAMS}.items()}


def _preference(rec: _Records, members: np.ndarray, labels: _Labels, rule: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sort score (lowest is kept) and the rule applied, for each duplicated record."""
    names = labels.param[rec.param[members]]
    character = np.isin(names, _CHARACTER)
    sign = pd.Series(names).map(_WORST_SIGN).fillna(-1).to_numpy()
    rank = pd.Series(rec.text[members]).map(schema.OXYDEV_RANK).to_numpy(dtype=float)
    worst = np.where(character, -rank, sign * rec.value[members])
    applied = np.where(character & (rule == "mean"), "worst", rule)
    score = {"worst": worst, "best": -worst,
             "mean": np.where(character, worst, 0.0),
             "first": np.zeros(len(members)),
             "last": -rec.row[members].astype(float)}[rule]
    return score, applied


def _aggregate(rec: _Records, labels: _Labels, table: RawTable, chk: _Check, ledger: _Ledger,
               flags: _Flags) -> None:
    """Canonical order; records of one subject, day, time and parameter reduced to one."""
    key = _lex_key(rec.subject, _day_codes(rec.day), rec.time, rec.param)
    order = np.argsort(key, kind="stable")
    rec.select(order)
    key = key[order]
    del order
    same_next = key[1:] == key[:-1]
    if not same_next.any():
        return
    members = np.flatnonzero(np.r_[same_next, False] | np.r_[False, same_next])
    score, applied = _preference(rec, members, labels, chk.daily_rule)
    sort = np.lexsort((rec.row[members], score, key[members]))
    ranked, applied = members[sort], applied[sort]
    first = np.r_[True, key[ranked][1:] != key[ranked][:-1]]
    kept, dropped = ranked[first], ranked[~first]
    if chk.daily_rule == "mean":
        _mean_into(rec, ranked, first, applied[first] == "mean")
    rec.bits[kept] |= flags.bit("aggregated")
    keeper = kept[np.cumsum(first)[~first] - 1]
    _log_duplicates(ledger, rec.row[dropped], rec.row[keeper], applied[~first])
    chk.log.warn(table.file, f"duplicate records (same USUBJID, ADY, ATM and PARAMCD) reduced "
                 f"to one by the '{chk.daily_rule}' rule; the others are dropped",
                 rec.row[kept], None if table.wide else "PARAMCD")
    keep = np.ones(len(key), dtype=bool)
    keep[dropped] = False
    rec.select(keep)


def _mean_into(rec: _Records, ranked: np.ndarray, first: np.ndarray, numeric: np.ndarray
               ) -> None:
    """Under the "mean" rule the kept record gets its group's mean and all its flags."""
    group = np.cumsum(first) - 1
    value = rec.value[ranked]
    ok = np.isfinite(value)
    sums = np.bincount(group, weights=np.where(ok, value, 0.0))
    counts = np.bincount(group, weights=ok.astype(float))
    means = np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0)
    kept = ranked[first]
    target = numeric & (counts > 0)
    rec.value[kept[target]] = means[target]
    rec.bits[kept] = np.bitwise_or.reduceat(rec.bits[ranked], np.flatnonzero(first))


def _log_duplicates(ledger: _Ledger, dropped_rows: np.ndarray, keeper_rows: np.ndarray,
                    applied: np.ndarray) -> None:
    """"duplicate of row N: <rule> kept"; past MAX_DUPLICATE_REASONS kept rows, pooled."""
    keepers, which = np.unique(keeper_rows, return_inverse=True)
    rule_of = dict(zip(keeper_rows.tolist(), applied.tolist()))
    for k, row in enumerate(keepers[:MAX_DUPLICATE_REASONS]):
        ledger.drop(dropped_rows[which == k], f"duplicate of row {row}: {rule_of[row]} kept")
    pooled = which >= MAX_DUPLICATE_REASONS
    for rule in np.unique(applied[pooled]):
        ledger.drop(dropped_rows[pooled & (applied == rule)],
                    f"duplicate of a row kept by the {rule} rule (same USUBJID, ADY, ATM and "
                    "PARAMCD)")


def _warn_fio2(rec: _Records, labels: _Labels, table: RawTable, chk: _Check) -> None:
    """PaO2 without any FiO2 that day: say whether PF can still be derived."""
    param = labels.param[rec.param]
    on_day = _lex_key(rec.subject, _day_codes(rec.day))
    column = None if table.wide else "PARAMCD"
    for sel, message in _fio2_gaps(on_day, param, rec.text, chk.fio2_from_flow):
        chk.log.warn(table.file, message, rec.row[sel], column)


def warn_fio2_across(pieces, chk: _Check) -> None:
    """_warn_fio2 over several BDS tables at once (PaO2 in one, FiO2 in another):
    ``pieces`` are (table, canonical visits frame, its file rows)."""
    frames = [frame for _, frame, _ in pieces]
    subject = pd.factorize(np.concatenate([f["USUBJID"].to_numpy() for f in frames]))[0]
    day = np.concatenate([f["ADY"].to_numpy() for f in frames])
    param = np.concatenate([f["PARAMCD"].to_numpy() for f in frames])
    text = np.concatenate([f["AVALC"].to_numpy() for f in frames])
    gaps = _fio2_gaps(_lex_key(subject, _day_codes(day)), param, text, chk.fio2_from_flow)
    start = 0
    for table, frame, rows in pieces:
        part = slice(start, start + len(frame))
        start += len(frame)
        for sel, message in gaps:
            if sel[part].any():
                chk.log.warn(table.file, message, rows[sel[part]],
                             None if table.wide else "PARAMCD")


def _fio2_gaps(on_day: np.ndarray, param: np.ndarray, text: np.ndarray, from_flow_rule: bool
               ) -> list[tuple[np.ndarray, str]]:
    """(records, message) for PaO2 records without an FiO2 on their subject-day."""
    pao2 = param == "PAO2"
    if not pao2.any():
        return []
    # derive pairs PaO2 with the FiO2 of the same time, else of the same day
    missing = pao2 & ~np.isin(on_day, on_day[param == "FIO2"])
    oxydev = param == "OXYDEV"
    room_air = missing & np.isin(on_day, on_day[oxydev & (text == "RA")])
    from_flow = np.zeros(len(param), dtype=bool)
    if from_flow_rule:
        from_flow = (missing & ~room_air & np.isin(on_day, on_day[oxydev & (text == "NC")])
                     & np.isin(on_day, on_day[param == "O2FLOW"]))
    gaps = [(room_air, "PAO2 without FIO2 on a day on room air: FIO2 will be imputed as 0.21"),
            (from_flow, "PAO2 without FIO2 on nasal cannula: FIO2 will be imputed from O2FLOW "
                        "(0.21 + 0.04 x L/min)"),
            (missing & ~room_air & ~from_flow, "PAO2 without any FIO2 that day: no PF for "
                                               "these records (record FIO2, or set "
                                               "fio2_from_flow for nasal cannula)")]
    return [(sel, message) for sel, message in gaps if sel.any()]


def _warn_after_last_alive(table: RawTable, day: np.ndarray, used: np.ndarray,
                           position: np.ndarray, subjects: _Subjects | None, chk: _Check) -> None:
    if subjects is None:
        return
    known = position >= 0
    last = np.full(len(day), np.nan)
    last[known] = subjects.lstalvdy[position[known]]
    far = beyond_follow_up(day, last, position, used)
    if far.any():
        ids = _Cells(table.frame["USUBJID"], len(day)).text(far)
        chk.problems.add(table.file, "ADY", f"every visit of the subject is more than "
                         f"{FOLLOW_UP_MARGIN} days after LSTALVDY (last day known alive in "
                         f"{subjects.file}): its days are not study days of this follow-up.",
                         f"correct ADY (study days: day 1 is the day of randomization) or "
                         f"LSTALVDY in {subjects.file}.", table.frame[ROW].to_numpy()[far], ids)
    late = used & (day > last) & ~far
    if late.any():
        chk.log.warn(table.file, f"visit after LSTALVDY (last day known alive in "
                     f"{subjects.file}): kept; the visit shows the subject alive that day",
                     table.frame[ROW].to_numpy()[late], "ADY")


def _visits(table: RawTable, chk: _Check, subjects: _Subjects | None, warn_fio2: bool = True
            ) -> tuple[pd.DataFrame, np.ndarray] | None:
    """Canonical visits and the file rows they use; None when there were errors.
    warn_fio2=False: the caller warns about PaO2 without FiO2 across several tables."""
    frame, file = table.frame, table.file
    missing = _missing_columns(table, schema.TABLE_SPECS["visits"].required, chk)
    if "AVAL" not in frame.columns and "AVALC" not in frame.columns:
        chk.problems.add(file, "AVAL", "visits needs an AVAL (numbers) or an AVALC (text) "
                         "column.", "add AVAL, and AVALC for OXYDEV and '<LLOQ' results.")
        missing.append("AVAL")
    if missing:
        return None
    ledger, flags = _Ledger(table), _Flags()
    read = _visit_records(table, chk, subjects, ledger, flags)
    if read is None:
        return None
    rec, labels = read
    _aggregate(rec, labels, table, chk, ledger, flags)
    if warn_fio2:
        _warn_fio2(rec, labels, table, chk)
    ledger.close(chk.log, rec.row)
    return _visits_frame(rec, labels, flags), rec.row


def _visit_records(table: RawTable, chk: _Check, subjects: _Subjects | None, ledger: _Ledger,
                   flags: _Flags) -> tuple[_Records, _Labels] | None:
    """Every visit row checked and read into canonical units; None when there were errors."""
    frame, before = table.frame, len(chk.problems)
    cells, position = _subjects_of(table, chk, subjects)
    day = _days(table, "ADY", chk)
    _after_death(table, "ADY", day, position, subjects, chk, "a visit")
    time, time_labels = _times(table, "ATM", chk)
    params = _Cells(frame["PARAMCD"], len(frame), upper=True)
    _require_text(table, "PARAMCD", params.blank(), chk)
    param, param_labels = _sorted_codes(params)
    values = _VisitValues(table, chk, ledger, flags)
    for code, idx in _groups(param):
        if param_labels[code]:
            values.read(param_labels[code], idx)
    if len(chk.problems) > before:
        return None
    _warn_after_last_alive(table, day, values.used, position, subjects, chk)
    subject, subject_labels = _sorted_codes(cells)
    rec = _Records(subject, day, time, param, values.value, values.text, values.lloq,
                   values.bits, frame[ROW].to_numpy())
    if not values.used.all():
        rec.select(values.used)
    return rec, _Labels(subject_labels, time_labels, param_labels)


VISIT_COLUMNS = ("USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "LLOQ", "FLAG")


def _visits_frame(rec: _Records, labels: _Labels, flags: _Flags) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": labels.subject[rec.subject], "ADY": rec.day.astype(np.int64),
        "ATM": labels.time[rec.time], "PARAMCD": labels.param[rec.param],
        "AVAL": rec.value, "AVALC": rec.text, "LLOQ": rec.lloq, "FLAG": flags.text(rec.bits)},
        columns=list(VISIT_COLUMNS), copy=False)


def _no_visits() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": np.array([], dtype=object), "ADY": np.array([], dtype=np.int64),
        "ATM": np.array([], dtype=object), "PARAMCD": np.array([], dtype=object),
        "AVAL": np.array([], dtype=float), "AVALC": np.array([], dtype=object),
        "LLOQ": np.array([], dtype=float), "FLAG": np.array([], dtype=object)})


