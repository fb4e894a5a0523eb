"""A widget's hello reads back only what its visitor can have: a visitor id issued by this very
hello has no identity yet, so its welcome is made without reading history or a rating; a
returning visitor (with its token) gets both from the database."""

from __future__ import annotations

from aiohttp import web

from core.app_keys import SESSIONS
from tests.support.admin import ADMIN_PASSWORD
from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.querycount import count_queries

VISITOR_READS = ("FROM client_identities", "FROM messages")
"""What reading a visitor's history or pending rating starts with."""


def reads_of_visitors(statements: list[str]) -> list[str]:
    return [s for s in statements if any(r in " ".join(s.split()) for r in VISITOR_READS)]


async def test_a_new_visitors_hello_reads_no_history_and_a_returning_one_gets_its_own(
    app: web.Application, hub: str
) -> None:
    engine = app[SESSIONS].kw["bind"]
    admin = OperatorClient(hub)
    first = VisitorClient(hub)
    again = VisitorClient(hub)
    try:
        await admin.login("admin", ADMIN_PASSWORD)
        await admin.wait_status("online")
        await admin.open_socket()

        with count_queries(engine) as statements:
            welcome = await first.connect()
        assert welcome["type"] == "welcome" and welcome["history"] == []
        assert "rating" not in welcome
        assert reads_of_visitors(statements) == [], statements.report()

        cid = await first.say("Is the kettle in stock?")
        await first.receive_until("message", client_msg_id=cid)
        await admin.receive_until("message", author="client")

        assert first.token is not None
        with count_queries(engine) as statements:
            back = await again.connect(token=first.token)
        assert [m["text"] for m in back["history"]] == ["Is the kettle in stock?"]
        assert reads_of_visitors(statements), statements.report()
    finally:
        await first.close()
        await again.close()
        await admin.close()
