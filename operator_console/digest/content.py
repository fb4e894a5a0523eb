"""What a digest says: the KPI board rows and rating places of the operators a reader may
see, as a plain-text body and a simple HTML part (every name escaped)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from operator_console.kpi.periods import Period
from operator_console.kpi.targets import LABELS, PlanKind

NONE = "—"


@dataclass(frozen=True)
class Reader:
    """Someone a digest goes to, and whose rows it holds (None: everyone's)."""

    operator_id: int
    name: str
    email: str
    role: str
    operator_ids: frozenset[int] | None

    def may_read(self, operator_id: int) -> bool:
        """Whether this operator's row is in the reader's digest."""
        return self.operator_ids is None or operator_id in self.operator_ids


@dataclass(frozen=True)
class OperatorLine:
    """One operator's week: their board row and their place in the rating."""

    board: dict[str, Any]
    place: dict[str, Any]
    ranked: int


def number(value: float | None) -> str:
    """A figure as a person reads it: 12 rather than 12.0; a dash for nothing to measure."""
    return NONE if value is None else f"{value:g}"


def verdict(met: bool | None) -> str:
    """Met, missed, or nothing to measure."""
    return NONE if met is None else ("met" if met else "missed")


def _kpi_text(kpi: dict[str, Any]) -> str:
    label = LABELS[kpi["kind"]]
    pct = NONE if kpi["done_pct"] is None else f"{number(kpi['done_pct'])}%"
    return (
        f"  {label}: plan {number(kpi['target'])}, fact {number(kpi['fact'])}, "
        f"{pct} done, {verdict(kpi['met'])}"
    )


def _heading(line: OperatorLine) -> str:
    points, rank = number(line.place["points"]), line.place["rank"]
    return f"{line.board['name']}: {points} points, rank {rank} of {line.ranked}"


def _intro(reader: Reader, period: Period) -> str:
    week = f"{period.first.isoformat()} – {period.last.isoformat()}"
    whose = {"admin": "every operator", "manager": "your group's operators"}.get(reader.role, "you")
    return f"Hello {reader.name},\n\nThe figures of {whose} for the week {week}:"


def render_text(reader: Reader, period: Period, lines: list[OperatorLine]) -> str:
    """The plain-text body."""
    parts = [_intro(reader, period), ""]
    for line in lines:
        parts.append(_heading(line))
        kpis = line.board["kpis"]
        parts.extend(_kpi_text(k) for k in kpis)
        if not kpis:
            parts.append("  no plans for the week")
        parts.append("")
    return "\n".join(parts)


def _kpi_row(kpi: dict[str, Any]) -> str:
    kind: PlanKind = kpi["kind"]
    pct = NONE if kpi["done_pct"] is None else f"{number(kpi['done_pct'])}%"
    cells = (LABELS[kind], number(kpi["target"]), number(kpi["fact"]), pct, verdict(kpi["met"]))
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def render_html(reader: Reader, period: Period, lines: list[OperatorLine]) -> str:
    """The HTML part: one table per operator; names and labels escaped."""
    intro = html.escape(_intro(reader, period)).replace("\n\n", "</p><p>")
    parts = [f"<html><body><p>{intro}</p>"]
    head = "<tr><th>KPI</th><th>Plan</th><th>Fact</th><th>Done</th><th>Result</th></tr>"
    for line in lines:
        parts.append(f"<h3>{html.escape(_heading(line))}</h3>")
        rows = "".join(_kpi_row(k) for k in line.board["kpis"])
        parts.append(f"<table>{head}{rows}</table>" if rows else "<p>No plans for the week.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def digest_mail(
    reader: Reader, period: Period, lines: list[OperatorLine], sender: tuple[str, str]
) -> EmailMessage:
    """The digest for ``reader`` from ``sender`` (name, address)."""
    mail = EmailMessage()
    mail["From"] = formataddr(sender)
    mail["To"] = formataddr((reader.name, reader.email))
    mail["Subject"] = f"Weekly KPI digest, {period.first.isoformat()} – {period.last.isoformat()}"
    mail["Message-ID"] = make_msgid(domain=sender[1].rsplit("@", 1)[-1])
    mail.set_content(render_text(reader, period, lines))
    mail.add_alternative(render_html(reader, period, lines), subtype="html")
    return mail
