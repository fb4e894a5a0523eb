"""What a digest mail says: plan, fact, % done, met or missed, points and rank; names in the
HTML part are escaped."""

from __future__ import annotations

from datetime import date

from operator_console.digest.content import OperatorLine, Reader, digest_mail
from operator_console.kpi.periods import Period

WEEK = Period("week", date(2026, 3, 2), date(2026, 3, 8))


def _line(name: str, kpis: list[dict[str, object]]) -> OperatorLine:
    board = {"operator_id": 7, "name": name, "kpis": kpis}
    return OperatorLine(board, {"operator_id": 7, "rank": 2, "points": 12.5}, 4)


def test_the_mail_has_each_figure_in_text_and_html_with_names_escaped() -> None:
    name = 'Eve <b>"the best"</b> & Co'
    kpis: list[dict[str, object]] = [
        {"kind": "dialogs", "target": 10.0, "fact": 12, "done_pct": 120.0, "met": True},
        {"kind": "frt_p90_s", "target": 60.0, "fact": 75.0, "done_pct": 80.0, "met": False},
        {"kind": "rating_avg", "target": 4.5, "fact": None, "done_pct": None, "met": None},
    ]
    reader = Reader(7, name, "eve@example.test", "operator", frozenset({7}))
    mail = digest_mail(reader, WEEK, [_line(name, kpis)], ("Support", "support@example.test"))

    assert mail["Subject"] == "Weekly KPI digest, 2026-03-02 – 2026-03-08"
    assert mail["To"].addresses[0].addr_spec == "eve@example.test"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    plain, markup = text.get_content(), html.get_content()
    assert f"{name}: 12.5 points, rank 2 of 4" in plain
    assert "  Dialogs handled: plan 10, fact 12, 120% done, met" in plain
    assert "  First response p90, s: plan 60, fact 75, 80% done, missed" in plain
    assert "  Average rating: plan 4.5, fact —, — done, —" in plain
    assert "Eve &lt;b&gt;&quot;the best&quot;&lt;/b&gt; &amp; Co: 12.5 points" in markup
    assert "<b>" not in markup
    assert "<td>Dialogs handled</td><td>10</td><td>12</td><td>120%</td><td>met</td>" in markup


def test_an_operator_without_plans_still_gets_their_points() -> None:
    reader = Reader(1, "Admin", "admin@example.test", "admin", None)
    mail = digest_mail(reader, WEEK, [_line("Ivan", [])], ("", "support@example.test"))
    body = mail.get_body(("plain",))
    assert body is not None
    plain = body.get_content()
    assert "The figures of every operator for the week 2026-03-02 – 2026-03-08:" in plain
    assert "Ivan: 12.5 points, rank 2 of 4\n  no plans for the week" in plain
