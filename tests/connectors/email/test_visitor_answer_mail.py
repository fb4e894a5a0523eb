"""A web chat visitor who left their email and then the page gets the operator's answer in
their real mailbox, threaded, through the line's mailbox, and their mailed reply joins the same
dialog; one still on the page gets the answer there and no mail."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.hubclient import OperatorClient, VisitorClient
from tests.support.mailflow import wait_for_mail_with, write_leaving_email
from tests.support.mailpeers import CLIENT, MailPeers

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.parametrize("redis_server", ["7"], indirect=True),
]


async def test_the_answer_to_a_visitor_who_left_goes_to_their_email_threaded(
    admin: OperatorClient,
    visitor: VisitorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
) -> None:
    dialog = await write_leaving_email(admin, visitor, "Do you ship to Oslo?")
    # Still on the page: the answer shows there, and no mail goes out.
    status, _ = await admin.call(
        "POST",
        f"/api/dialogs/{dialog['id']}/messages",
        {"text": "Let me check.", "client_msg_id": "r0"},
    )
    assert status == 202
    await visitor.receive_until("message", author="operator", text="Let me check.")
    assert visitor.ws is not None
    await visitor.ws.close()  # the visitor leaves the page

    for n, text in enumerate(("Yes, in 3 days.", "<b>Free</b> over 50 €.")):
        status, _ = await admin.call(
            "POST",
            f"/api/dialogs/{dialog['id']}/messages",
            {"text": text, "client_msg_id": f"r{n + 1}"},
        )
        assert status == 202
        stored = await admin.receive_until("message", timeout=20, text=text)
        await admin.receive_until(
            "delivery", timeout=20, id=stored["message"]["id"], delivery_status="sent"
        )
    first = await wait_for_mail_with(mailboxes, "Yes, in 3 days.")
    second = await wait_for_mail_with(mailboxes, "<b>Free</b> over 50 €.")
    assert (
        f"[#D{dialog['id']}]" in first["Subject"]
        and first["From"].addresses[0].addr_spec == account_config["from_address"]
    )
    assert second["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in second["References"]
    body = second.get_body()
    assert body is not None and body.get_content_type() == "text/plain"
    assert "<b>Free</b> over 50 €." in body.get_content()
    assert not any("Let me check." in str(m.get_body()) for m in (first, second))

    # The visitor answers in their mail program: it joins the web chat dialog.
    reply = EmailMessage()
    reply["From"], reply["To"] = f"Kari <{CLIENT}>", account_config["from_address"]
    reply["Subject"], reply["Message-ID"] = f"Re: {second['Subject']}", "<k1@example.test>"
    reply["In-Reply-To"] = second["Message-ID"]
    reply["References"] = f"{first['Message-ID']} {second['Message-ID']}"
    reply.set_content("Great, ordering now.")
    mailboxes.deliver(reply.as_bytes(), sender=CLIENT)
    joined = await admin.receive_until("message", timeout=20, author="client",
                                       text="Great, ordering now.")  # fmt: skip
    assert joined["message"]["dialog_id"] == dialog["id"]

    # Closed, the conversation can be mailed to the visitor: plain text, the markup as typed.
    await visitor.connect()
    ask = {"type": "transcript", "dialog_id": dialog["id"], "email": CLIENT}
    await visitor.send_raw(json.dumps(ask))
    refused = await visitor.receive_until("error", code="transcript")
    assert "not closed" in refused["reason"]
    status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/close")
    assert status == 202
    await visitor.receive_until("closed", dialog_id=dialog["id"])
    await visitor.send_raw(json.dumps(ask))
    await visitor.receive_until("transcript_sent", dialog_id=dialog["id"])
    transcript = await wait_for_mail_with(mailboxes, "Do you ship to Oslo?")
    assert transcript["Subject"].startswith("Your conversation with")
    text = transcript.get_body().get_content()
    assert transcript.get_body().get_content_type() == "text/plain"
    for said in (
        "You, ",
        "Do you ship to Oslo?",
        "Administrator, ",
        "<b>Free</b> over 50 €.",
        "Great, ordering now.",
    ):
        assert said in text
    await visitor.send_raw(json.dumps({**ask, "dialog_id": dialog["id"] + 1000}))
    assert "not a dialog of yours" in (await visitor.receive_until("error"))["reason"]
