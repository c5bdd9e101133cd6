"""The package's own errors. Each names where the problem is and how to fix it.

The CLI maps DataError and SapError to exit code 1 and prints their messages;
nothing else the user did wrong should surface as a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is, what it is, and the fix.

    ``row`` is the 1-based data row in the file (the header is not counted), so
    in a spreadsheet it is on line ``row + 1``.
    """
    file: str
    message: str
    fix: str = ""
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column:
            where += f", column {self.column}"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class MscstatsError(Exception):
    """Base of every error the user can fix."""


class DataError(MscstatsError):
    """The trial data is wrong. Holds every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem] | Problem | str):
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems = tuple(p if isinstance(p, Problem) else Problem("data", p)
                              for p in problems)
        super().__init__(self._text())

    @classmethod
    def unreadable(cls, file: str, what: str, err: BaseException, fix: str) -> "DataError":
        """A file its reader could not read: the reader's own message, on one line and
        shortened (readers print tracebacks' worth), or the error's type when it has none."""
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        return cls(Problem(file, f"cannot read the {what}: {detail}", fix=fix))

    def _text(self) -> str:
        n = len(self.problems)
        head = "1 error in the trial data" if n == 1 else f"{n} errors in the trial data"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)


class SapError(MscstatsError):
    """The SAP file is wrong: names the key path and the fix."""

    def __init__(self, key: str, message: str, fix: str = "", file: str = "SAP"):
        self.file, self.key, self.fix = file, key, fix
        text = f"{file}: {key}: {message}"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class AnalysisError(MscstatsError):
    """An analysis cannot be run on this data (e.g. an arm with no subjects)."""

    def __init__(self, analysis: str, message: str, fix: str = ""):
        self.analysis = analysis
        text = f"analysis {analysis}: {message}"
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)
