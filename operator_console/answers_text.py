"""Pure helpers of quick answers: placeholders, fuzzy ranking, and the CSV rows of a line.

Nothing here touches the database or the request; ``answers_api`` does that.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.db.answers_schema import MAX_ANSWER_TEXT, MAX_ANSWER_TITLE
from crm_sink.contacts import is_generated_name

PLACEHOLDERS = ("{client_name}", "{operator_name}", "{line}")
CSV_COLUMNS = ("title", "text")
MAX_CSV_ROWS = 2000
MIN_SCORE = 60.0

# An empty client name must not leave "Hello, !" behind: drop the comma or space before it.
_EMPTY_NAME_SPOT = re.compile(r"[ \t]*,?[ \t]*\{client_name\}(?=[ \t]*[!?.,;:])")


# Greeting someone by a name the hub made up reads as a bug, so such a name renders as nothing.
def render_answer(text: str, client_name: str, operator_name: str, line_name: str) -> str:
    """The answer's text with its placeholders filled in; a generated client name renders as
    nothing, and the punctuation around it closes up ("Hello, {client_name}!" -> "Hello!")."""
    if is_generated_name(client_name):
        text = _EMPTY_NAME_SPOT.sub("", text)
        client_name = ""
    return (
        text.replace("{client_name}", client_name.strip())
        .replace("{operator_name}", operator_name)
        .replace("{line}", line_name)
    )


def fuzzy_score(query: str, title: str, text: str) -> float:
    """How well an answer matches what the operator typed after ``/``: 0–100, the title
    counting more than the text."""
    q = query.casefold().strip()
    if not q:
        return 100.0
    from rapidfuzz import fuzz  # at the first search, not at the hub's start

    by_title = fuzz.partial_ratio(q, title.casefold())
    by_text = fuzz.partial_ratio(q, text.casefold()) * 0.9
    return float(max(by_title, by_text))


@dataclass(frozen=True)
class CsvAnswer:
    """One valid row of an imported CSV."""

    title: str
    text: str


class CsvError(ValueError):
    """A CSV that cannot be imported; ``row`` counts the header as row 1 (0: the file)."""

    def __init__(self, row: int, field: str, reason: str) -> None:
        super().__init__(f"row {row}: {field}: {reason}")
        self.row = row
        self.field = field


def answers_csv(answers: Sequence[tuple[str, str]]) -> str:
    """A CSV of ``(title, text)`` rows under a ``title,text`` header."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(answers)
    return out.getvalue()


def check_csv(raw: str) -> list[CsvAnswer]:
    """Every row of an uploaded CSV, checked; the first bad one raises ``CsvError``."""
    rows = csv.reader(io.StringIO(raw.removeprefix("\ufeff"), newline=""))
    header = next(rows, None)
    if header is None:
        raise CsvError(0, "file", "empty; expected a header: title,text")
    columns = [c.strip().casefold() for c in header]
    for column in columns:
        if column not in CSV_COLUMNS:
            raise CsvError(1, column or "header", "unknown column; expected title,text")
    for column in CSV_COLUMNS:
        if columns.count(column) != 1:
            raise CsvError(1, column, "the header needs this column exactly once")
    answers: list[CsvAnswer] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise CsvError(number, "row", f"has {len(row)} cells; expected {len(columns)}")
        answer = _check_row(number, dict(zip(columns, row, strict=True)))
        if answer.title.casefold() in seen:
            raise CsvError(number, "title", "appears twice in the file")
        seen.add(answer.title.casefold())
        answers.append(answer)
        if len(answers) > MAX_CSV_ROWS:
            raise CsvError(number, "row", f"more than {MAX_CSV_ROWS} answers in one file")
    return answers


def _check_row(number: int, cells: dict[str, str]) -> CsvAnswer:
    title, text = cells["title"].strip(), cells["text"].strip()
    if not title:
        raise CsvError(number, "title", "must not be empty")
    if len(title) > MAX_ANSWER_TITLE:
        raise CsvError(number, "title", f"longer than {MAX_ANSWER_TITLE} characters")
    if not text:
        raise CsvError(number, "text", "must not be empty")
    if len(text) > MAX_ANSWER_TEXT:
        raise CsvError(number, "text", f"longer than {MAX_ANSWER_TEXT} characters")
    return CsvAnswer(title, text)
