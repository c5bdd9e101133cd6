"""Number text read exactly, and the decimal mark a number text uses.

Exact: a number's text is parsed correctly rounded (Python's float(), which
rounds to the nearest double), so the shortest text of a float reads back as
that float: "0.30000000000000004" is 0.30000000000000004, not 0.3 (the parser
of pandas.to_numeric is one unit in the last place off for some 17-digit texts,
which moves tied ranks). Only plain decimal numbers are numbers here: a sign,
ASCII digits with at most one point, an exponent. float() itself would also take
"1_000", "inf", "nan", non-ASCII digits and surrounding spaces: those are text.

Decimal marks: ``decimal_forms`` says which mark a text uses ("7,5", "1,200",
"1.234,5" ...); decimal_marks.py decides what a table's numbers mean.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["parse_numbers", "decimal_forms", "comma_to_point", "without_thousands", "NUMBER", "COMMA", "COMMA3",
           "POINT", "POINT3", "GROUPED"]

_EXPONENT = r"(?:[eE][+-]?\d+)?"
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)" + _EXPONENT, re.ASCII)
# "<1,5", "<= 0,2": a result below a limit keeps its prefix; the number is read after it
_BELOW_PREFIX = re.compile(r"<\s*=?\s*")

# The forms of a number text, by its marks (the prefix "<" aside):
POINT = "point"        # "7.5", "1e-3", "12": a decimal point or no mark
POINT3 = "point3"      # "1.200": a point before exactly three digits (a thousands point?)
COMMA = "comma"        # "7,5", ",5", "1,5e3": one decimal comma
COMMA3 = "comma3"      # "1,200": a comma before exactly three digits (a thousands comma?)
GROUPED = "grouped"    # "1,234,567", "1.234,5", "1,234.5": a thousands separator
_FORMS = (
    (POINT3, re.compile(r"[+-]?\d{1,3}\.\d{3}", re.ASCII)),
    (POINT, NUMBER),
    (COMMA3, re.compile(r"[+-]?\d{1,3},\d{3}", re.ASCII)),
    (COMMA, re.compile(r"[+-]?(?:\d+,\d*|,\d+)" + _EXPONENT, re.ASCII)),
    (GROUPED, re.compile(r"[+-]?\d+(?:[.,]\d+){2,}" + _EXPONENT, re.ASCII)),
)


def parse_numbers(texts) -> np.ndarray:
    """Each stripped text as a float, correctly rounded; NaN where it is not a number.

    A text too large for a double ("1e400") is infinite: a number, but not a
    finite one (the caller decides what that means).
    """
    fullmatch, nan = NUMBER.fullmatch, float("nan")
    return np.fromiter((float(t) if isinstance(t, str) and fullmatch(t) else nan
                        for t in texts), dtype=np.float64, count=len(texts))


def _body(text: str) -> tuple[str, str]:
    prefix = _BELOW_PREFIX.match(text)
    return (text[:prefix.end()], text[prefix.end():]) if prefix else ("", text)


def decimal_forms(texts) -> np.ndarray:
    """The form of each text (POINT, POINT3, COMMA, COMMA3, GROUPED), "" when not a number."""
    out = np.full(len(texts), "", dtype=object)
    for k, text in enumerate(texts):
        body = _body(text)[1] if isinstance(text, str) else ""
        out[k] = next((form for form, pattern in _FORMS if pattern.fullmatch(body)), "")
    return out


def comma_to_point(text: str) -> str:
    """ "7,5" -> "7.5", "<1,5" -> "<1.5" (for a text of form COMMA or COMMA3)."""
    prefix, body = _body(text)
    return prefix + body.replace(",", ".")


# thousands separators in groups of three digits, then the decimal mark and the fraction
_GROUPING = {".": re.compile(r"([+-]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?", re.ASCII),
             ",": re.compile(r"([+-]?)(\d{1,3}(?:\.\d{3})+)(,\d+)?", re.ASCII)}


def without_thousands(text: str, decimal: str) -> str | None:
    """ "1,234.5" -> "1234.5" (decimal "."), "1.234,5" -> "1234.5" (decimal ","); None
    when the text is not a number grouped in threes by the other mark."""
    prefix, body = _body(text)
    match = _GROUPING[decimal].fullmatch(body)
    if match is None:
        return None
    fraction = (match[3] or "").replace(",", ".")
    return prefix + match[1] + match[2].replace("," if decimal == "." else ".", "") + fraction
