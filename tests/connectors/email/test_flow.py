"""End to end through a whole hub: a client's mail reaches the console, the operator's reply
reaches the client's real mailbox threaded, the client's answer joins the same dialog, and
bounces and 5xx refusals are shown to the operator."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

import pytest

from connectors.email import adapter
from connectors.email.parse import ParsedMail, parse_mail
from tests.support.connector_hub import Hub
from tests.support.hubclient import OperatorClient
from tests.support.mailflow import add_mailbox, client_mail, set_greeting, wait_for_mail
from tests.support.mailpeers import CLIENT, OTHER, PASSWORD, SUPPORT, MailPeers

pytestmark = pytest.mark.timeout(90)


async def test_mail_reaches_the_operator_and_the_reply_threads_back(
    hub: Hub,
    admin: OperatorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
) -> None:
    await add_mailbox(hub.server.app, account_config)
    mailboxes.deliver(client_mail("Счёт", "Пришлите счёт, пожалуйста.", "<q1@example.test>"))

    dialog = (await admin.receive_until("dialog", timeout=20))["dialog"]
    assert dialog["channel_kind"] == "email"
    message = (await admin.receive_until("message"))["message"]
    assert "Пришлите счёт, пожалуйста." in message["text"]
    [attachment] = message["attachments"]
    assert attachment["name"] == "счёт.pdf"

    status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages",
                                 {"text": "Счёт во вложении.", "client_msg_id": "r1"})  # fmt: skip
    assert status == 202
    reply = await wait_for_mail(mailboxes, CLIENT)
    assert reply["In-Reply-To"] == "<q1@example.test>"
    assert "<q1@example.test>" in reply["References"]
    assert f"[#D{dialog['id']}]" in reply["Subject"]
    body = reply.get_body()
    assert body is not None and "Счёт во вложении." in body.get_content()
    stored = await admin.receive_until("message", timeout=15, text="Счёт во вложении.")
    await admin.receive_until(
        "delivery", timeout=15, id=stored["message"]["id"], delivery_status="sent"
    )

    # The client answers in their mail program: it threads into the same dialog.
    refs = f"<q1@example.test> {reply['Message-ID']}"
    mailboxes.deliver(client_mail(f"Re: {reply['Subject']}", "Спасибо, оплатим.",
                                  "<q2@example.test>", In_Reply_To=reply["Message-ID"],
                                  References=refs))  # fmt: skip
    answer = await admin.receive_until("message", timeout=20, dialog_id=dialog["id"],
                                       author="client", text="Спасибо, оплатим.")  # fmt: skip
    assert answer["message"]["dialog_id"] == dialog["id"]
    _, body_json = await admin.call("GET", f"/api/dialogs/{dialog['id']}")
    texts = [m["text"] for m in body_json["messages"]]
    assert texts.count("Спасибо, оплатим.") == 1 and len(texts) == 3


async def test_a_mail_the_parser_fails_on_is_skipped_and_the_next_one_arrives(
    hub: Hub,
    admin: OperatorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A parser bug not met yet, stood in for by one: the mail behind it must not wait for it.
    real = parse_mail

    def failing(raw: bytes) -> ParsedMail:
        if b"<bug@example.test>" in raw:
            raise RuntimeError("a parser bug")
        return real(raw)

    monkeypatch.setattr(adapter, "parse_mail", failing)
    await add_mailbox(hub.server.app, account_config)
    mailboxes.deliver(client_mail("Первое", "Не прочесть.", "<bug@example.test>"))
    mailboxes.deliver(client_mail("Второе", "Где мой заказ?", "<ok@example.test>"))
    message = (await admin.receive_until("message", timeout=20))["message"]
    assert "Где мой заказ?" in message["text"]
    skipped = [r for r in caplog.records if "the parser failed on was skipped" in r.getMessage()]
    assert len(skipped) == 1 and "<bug@example.test>" in skipped[0].getMessage()


async def test_automatic_mail_gets_no_automatic_answer_and_ours_are_marked(
    hub: Hub,
    admin: OperatorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
) -> None:
    # Another help desk's acknowledgement, answered by our greeting, answered by their
    # acknowledgement...: RFC 3834 breaks the loop on both sides.
    await set_greeting(hub.server.app, "We got your mail.")
    await add_mailbox(hub.server.app, account_config)
    mailboxes.deliver(
        client_mail("Automatic reply: order", "I am away until Monday.", "<ooo@example.test>",
                    Auto_Submitted="auto-replied")
    )  # fmt: skip
    person = EmailMessage()
    person["From"], person["To"], person["Subject"] = OTHER, SUPPORT, "Where is my order?"
    person["Message-ID"] = "<person@example.test>"
    person.set_content("It has not come.")
    mailboxes.deliver(person.as_bytes(), sender=OTHER)
    opened = await admin.receive_each(
        "dialog", {"client_name": "Клиент"}, {"client_name": OTHER}, timeout=20
    )
    away, asking = (d["dialog"]["id"] for d in opened)
    # The socket's frames of the first dialog's greeting may come before the second dialog's:
    # its delivery is read from the dialog itself.
    not_mailed = await _greeting_delivery(admin, away, "failed")
    assert "sent automatically" in (not_mailed["delivery_error"] or "")
    await _greeting_delivery(admin, asking, "sent")
    greeting = await wait_for_mail(mailboxes, OTHER)
    assert greeting["Auto-Submitted"] == "auto-replied"
    assert greeting["X-Auto-Response-Suppress"] == "All"
    body = greeting.get_body()
    assert body is not None and "We got your mail." in body.get_content()

    # A person's answer to the automatic mail is theirs to send, and it is not automatic.
    answer_body = {"text": "We will write on Monday.", "client_msg_id": "m1"}
    status, _ = await admin.call("POST", f"/api/dialogs/{away}/messages", answer_body)
    assert status == 202
    answer = await wait_for_mail(mailboxes, CLIENT)
    assert answer["Auto-Submitted"] == "no"
    body = answer.get_body()
    assert body is not None and "We will write on Monday." in body.get_content()
    # The greeting never went to the away client: their one mail is the operator's.
    found = mailboxes.doveadm("search", "-u", CLIENT, "mailbox", "INBOX", "all").split()
    assert len(found) == 2  # doveadm prints the mailbox GUID and the UID of each mail


async def test_a_site_form_mailed_from_our_own_address_is_the_visitors_dialog(
    hub: Hub,
    admin: OperatorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
) -> None:
    # The shop's contact form sends from the support address itself, the visitor in Reply-To:
    # it is not our own mail, and the answer goes to the visitor.
    await add_mailbox(hub.server.app, account_config)
    form = EmailMessage()
    form["From"], form["To"], form["Subject"] = f"Shop site <{SUPPORT}>", SUPPORT, "Call back"
    form["Reply-To"] = f"Иван Петров <{CLIENT}>"
    form["Message-ID"] = "<form1@example.test>"
    form.set_content("Please call me back about the kettle.")
    mailboxes.deliver(form.as_bytes(), sender=SUPPORT)
    dialog = (await admin.receive_until("dialog", timeout=20))["dialog"]
    assert dialog["client_name"] == "Иван Петров"
    answer_body = {"text": "We will call at noon.", "client_msg_id": "f1"}
    status, _ = await admin.call("POST", f"/api/dialogs/{dialog['id']}/messages", answer_body)
    assert status == 202
    answer = await wait_for_mail(mailboxes, CLIENT)
    assert answer["In-Reply-To"] == "<form1@example.test>"
    body = answer.get_body()
    assert body is not None and "We will call at noon." in body.get_content()


async def _greeting_delivery(
    admin: OperatorClient, dialog_id: int, status: str, timeout: float = 20
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            _, body = await admin.call("GET", f"/api/dialogs/{dialog_id}")
            for message in body["messages"]:
                if message["author"] == "system" and message["delivery_status"] == status:
                    return dict(message)
            await asyncio.sleep(0.1)


async def test_a_bounce_and_a_5xx_mark_replies_failed_with_the_reason(
    hub: Hub,
    admin: OperatorClient,
    mailboxes: MailPeers,
    account_config: dict[str, Any],
) -> None:
    await add_mailbox(hub.server.app, account_config)
    for n, sender in enumerate(("nobody@example.test", "someone@elsewhere.test")):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, SUPPORT, f"question {n}"
        msg["Message-ID"] = f"<b{n}@example.test>"
        msg.set_content("hello")
        mailboxes.deliver(msg.as_bytes(), sender=sender)
    # A dialog's frame comes again whenever the dialog changes: wait for two dialogs, not for
    # two frames.
    opened = await admin.receive_each(
        "dialog",
        {"client_name": "nobody@example.test"},
        {"client_name": "someone@elsewhere.test"},
        timeout=20,
    )
    dialogs = {d["dialog"]["client_name"]: d["dialog"]["id"] for d in opened}
    for n, dialog_id in enumerate(dialogs.values()):
        status, _ = await admin.call("POST", f"/api/dialogs/{dialog_id}/messages",
                                     {"text": f"answer {n}", "client_msg_id": f"a{n}"})  # fmt: skip
        assert status == 202
    # The refusal comes from our own SMTP session and the bounce by mail from Postfix, in
    # either order.
    refused, bounced = await admin.receive_each(
        "delivery",
        {"delivery_status": "failed", "dialog_id": dialogs["someone@elsewhere.test"]},
        # Postfix accepts mail for an unknown local user, then sends a real DSN back to us.
        {"delivery_status": "failed", "dialog_id": dialogs["nobody@example.test"]},
        timeout=30,
    )
    assert "550" in refused["delivery_error"]
    assert "bounced" in bounced["delivery_error"]
    assert "User doesn't exist" in bounced["delivery_error"]
    assert PASSWORD  # the account logs in with the shared test password
