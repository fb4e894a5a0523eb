"""Parsing real sample messages (connectors/email/fixtures) and rendering threaded replies."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import strategies as st

from connectors.email.config import EmailAccount, LineStyle, RoutingRule
from connectors.email.htmltext import html_to_text
from connectors.email.parse import MailParseError, parse_mail
from connectors.email.quotes import trim_quotes
from connectors.email.render import (
    ReplyContext,
    message_ids_of_ours,
    our_message_id,
    render_reply,
    reply_subject,
)
from tests.support.fuzzing import examples

FIXTURES = Path(__file__).resolve().parents[3] / "connectors" / "email" / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_koi8r_reply_decodes_subject_body_and_cyrillic_attachment_name() -> None:
    mail = parse_mail(fixture("koi8r_reply_with_attachment.eml"))
    assert mail.subject == "Re: Счёт за ноябрь [#D41]"
    assert mail.subject_dialog() == 41
    assert mail.sender == "ivan.petrov@example.test"  # normalised for the identity key
    assert mail.sender_name == "Иван Петров"
    assert mail.text.startswith("Здравствуйте!\n\nСчёт во вложении, оплатим до пятницы.")
    assert "Пришлите" not in mail.text  # the quoted question is trimmed
    [pdf] = mail.attachments
    assert pdf.name == "счёт ноябрь.pdf" and pdf.mime == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert mail.thread_ids() == ("<ol.7.1@example.test>", "<first-question@example.test>")


def test_windows_1251_quoted_printable_with_outlook_quote() -> None:
    mail = parse_mail(fixture("cp1251_outlook_question.eml"))
    assert mail.subject == "Вопрос по доставке"
    assert mail.sender_name == "Ольга Смирнова"
    assert mail.recipients == ("sales@example.test",)
    assert mail.text == (
        "Добрый день!\nПодскажите, когда будет доставка заказа 1842?\n\nС уважением,\nОльга"
    )


def test_gmail_alternative_prefers_plain_and_keeps_an_rfc2047_named_image() -> None:
    mail = parse_mail(fixture("gmail_html_with_image.eml"))
    assert "The kettle arrived *broken* & I want a refund." in mail.text
    assert "wrote:" not in mail.text and "shipped" not in mail.text
    [image] = mail.attachments
    assert image.name == "фото чайника.png" and image.mime == "image/png"


def test_html_only_mail_with_undeclared_cp1251_becomes_safe_text() -> None:
    mail = parse_mail(fixture("html_only_undeclared_cp1251.eml"))
    assert mail.text.splitlines()[0] == "Заказ № 77 оформлен"
    assert "Строка 2 <b> не тег" in mail.text  # an escaped tag stays text, shown as text
    assert "- чайник" in mail.text
    assert "color:red" not in mail.text and "bad" not in mail.text
    assert mail.message_id.endswith(".@openlines>")  # no Message-ID: a stable hash
    assert parse_mail(fixture("html_only_undeclared_cp1251.eml")).message_id == mail.message_id


def test_postfix_dsn_is_a_bounce_naming_the_original_message() -> None:
    mail = parse_mail(fixture("postfix_dsn_bounce.eml"))
    assert mail.bounce is not None and mail.automatic
    assert mail.bounce.original_ids == ("<orig-1@example.test>",)
    assert mail.bounce.recipient == "nobody@example.test"
    assert mail.bounce.status == "5.1.1"
    assert "User doesn't exist" in mail.bounce.reason
    assert mail.attachments == ()


@pytest.mark.parametrize(
    ("headers", "automatic"),
    [
        ({}, False),
        ({"Auto-Submitted": "no"}, False),
        ({"Auto-Submitted": "auto-replied"}, True),  # an out-of-office (RFC 3834)
        ({"Auto-Submitted": "Auto-Generated; owner-email=desk@shop.test"}, True),
        ({"Precedence": "bulk"}, True),  # older responders and newsletters
        ({"Precedence": "first-class"}, False),
        ({"List-Id": "Kettle owners <kettles.lists.example.test>"}, True),
    ],
)
def test_mail_sent_by_software_is_told_from_mail_sent_by_a_person(
    headers: dict[str, str], automatic: bool
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "client@example.test", "support@example.test", "x"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("text")
    assert parse_mail(msg.as_bytes()).automatic is automatic


@pytest.mark.parametrize(
    ("reply_to", "sender", "name"),
    [
        # A site's contact form: the mail is the form's, the client is in Reply-To.
        ("Иван Петров <Ivan@Example.test>", "ivan@example.test", "Иван Петров"),
        ("ivan@example.test", "ivan@example.test", ""),
        # Nothing usable in it: the author is the client.
        ("undisclosed-recipients:;", "forms@shop.test", "Shop site"),
        (None, "forms@shop.test", "Shop site"),
    ],
)
def test_the_client_is_whom_replies_go_to(reply_to: str | None, sender: str, name: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Shop site <forms@shop.test>", "support@x.test", "Form"
    if reply_to is not None:
        msg["Reply-To"] = reply_to
    msg.set_content("Call me back, please.")
    mail = parse_mail(msg.as_bytes())
    assert (mail.sender, mail.sender_name) == (sender, name)


def test_html_to_text_drops_scripts_and_quotes() -> None:
    html = "<p>Hi<script>evil()</script></p><blockquote>old</blockquote><p>a &lt; b</p>"
    assert html_to_text(html) == "Hi\n\na < b"


def test_trim_quotes_keeps_everything_when_the_mail_is_only_a_quote() -> None:
    assert trim_quotes("> only quoted\n> text") == "> only quoted\n> text"
    assert trim_quotes("Да.\n\nПн, 20 нояб. 2026 г. в 10:00, Поддержка <s@x>:\n") != ""
    assert trim_quotes("Yes.\n\nOn Mon, Nov 23, 2026 Support wrote:\n> q") == "Yes."


def test_mail_without_a_sender_is_refused_with_a_reason() -> None:
    with pytest.raises(MailParseError, match="From"):
        parse_mail(b"Subject: x\r\n\r\nbody\r\n")
    # No client's key can be that long: before, the envelope refused it at every reread.
    long_sender = b"From: <" + b"a" * 300 + b"@example.com>\r\nSubject: x\r\n\r\nbody\r\n"
    with pytest.raises(MailParseError, match="From: an address of 312 characters"):
        parse_mail(long_sender)


BROKEN_MAIL = b"""From: =?utf-8?q?=D0=98=D0=B2=D0=B0=D0=BD?= <ivan@example.com>
To: a,.b: =?koi8-r?b?8NLJ18XU?=
Subject: order
Message-ID: <broken@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset="utf\x00-8"

Where is my order?
--b1
Content-Type: application/pdf
Content-Disposition: attachment; filename*=\x00UTF-8''%D0%B0.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--b1--
"""


def test_headers_and_charsets_the_standard_library_fails_on_are_read_around() -> None:
    # A group in To: with an encoded word (an AttributeError inside the header parser) and a
    # charset with a NUL in it (a ValueError) each raised: the mail was read again at every
    # reconnect, and every later mail of its folder waited behind it.
    mail = parse_mail(BROKEN_MAIL)
    assert (mail.sender, mail.sender_name, mail.message_id) == (
        "ivan@example.com",
        "Иван",
        "<broken@example.com>",
    )
    assert mail.text == "Where is my order?"
    assert [(f.name, f.mime) for f in mail.attachments] == [("attachment", "application/pdf")]


def test_a_part_that_cannot_be_read_is_named_in_the_text_and_the_sender_kept() -> None:
    # A NUL in the text part's own file name fails the library wherever it looks at the part.
    raw = BROKEN_MAIL.replace(
        b'charset="utf\x00-8"\n',
        b"charset=utf-8\nContent-Disposition: inline; filename*=\x00UTF-8''%D0%B0.txt\n",
    )
    mail = parse_mail(raw)
    assert mail.sender == "ivan@example.com"
    assert mail.text == (
        "[the text of this mail could not be read]\n\n"
        "[the attachments of this mail could not be read]"
    )
    assert mail.attachments == ()


# What hostile and broken mail puts where a parser does not expect it.
PIECES = st.sampled_from(
    [b"=?", b"?=", b"<", b">", b'"', b";", b"@", b"\\", b"(", b")", b",", b":", b"\r", b"\x00",
     b"\xff", b"=?x-unknown?q?a?=", b'charset="x-nope"', b"--", b'boundary=""', b"base64",
     b"filename*=", b"''", b"%ZZ", b"=?utf-8?b?====?=", b"\n\n", b"a,.b: "]
)  # fmt: skip
EDITS = st.lists(st.tuples(st.floats(0, 1), PIECES | st.binary(max_size=4)), min_size=1, max_size=6)


def test_mangled_mail_is_read_or_refused_with_a_reason_never_crashed_on() -> None:
    mails = [fixture(name) for name in sorted(p.name for p in FIXTURES.iterdir())]
    for n, edits in enumerate(examples(EDITS, 1500)):
        raw = bytearray(mails[n % len(mails)])
        for where, piece in edits:
            at = int(where * len(raw))
            raw[at:at] = piece
        try:
            mail = parse_mail(bytes(raw))
        except MailParseError:
            continue
        assert "@" in mail.sender


def test_reply_threads_with_headers_signature_and_subject_tag() -> None:
    account = EmailAccount(
        imap_host="h", login="l", password="p", smtp_host="h",
        from_address="support@example.test", from_name="Support",
        lines={"3": LineStyle(signature="Sales team")},
    )  # fmt: skip
    ctx = ReplyContext(
        dialog_id=41, line_id=3, to_address="ivan@example.test", to_name="Иван",
        subject="Re: Счёт за ноябрь [#D41]", in_reply_to="<c2@x>",
        references=("<root@x> <c1@x>", "<ours1@example.test>", "<c2@x>"),
    )  # fmt: skip
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    raw = render_reply(account, ctx, "Спасибо!", "Anna", "<r@example.test>", at).as_bytes()
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Message-ID"] == "<r@example.test>"
    assert msg["In-Reply-To"] == "<c2@x>"
    assert msg["References"] == "<root@x> <c1@x> <ours1@example.test> <c2@x>"
    assert msg["Subject"] == "Re: Счёт за ноябрь [#D41]"
    body = msg.get_body()
    assert body is not None
    assert body.get_content() == "Спасибо!\n\n-- \nSales team\n"


def test_reply_subject_never_stacks_prefixes_or_tags() -> None:
    assert reply_subject("Re: $subject [#D$dialog_id]", "RE: Re: Fwd: Order [#D9]", 9) == (
        "Re: Order [#D9]"
    )
    assert reply_subject("Re: $subject [#D$dialog_id]", "", 5) == "Re: Dialog 5 [#D5]"


def test_routing_rules_pick_a_line_by_sender_recipient_and_subject() -> None:
    account = EmailAccount(
        imap_host="h", login="l", password="p", smtp_host="h",
        from_address="support@example.test",
        rules=(
            RoutingRule(line_id=7, recipient="sales@*"),
            RoutingRule(line_id=8, sender="*@vip.example", subject="*invoice*"),
        ),
    )  # fmt: skip
    assert account.route("a@b", ("sales@example.test",), "hi") == 7
    assert account.route("x@vip.example", ("support@example.test",), "Your INVOICE") == 8
    assert account.route("x@vip.example", ("support@example.test",), "hello") is None
    assert "password" not in account.public() and account.public()["password_set"] is True


def test_a_bounce_names_our_message_by_the_message_id_we_gave_it() -> None:
    at = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    ours = our_message_id(42, 7, at, "example.test")
    assert message_ids_of_ours(7, [ours]) == [42]
    # Another channel's id, someone else's id and a look-alike are not ours.
    assert message_ids_of_ours(8, [ours]) == []
    assert message_ids_of_ours(7, ["<abc@example.test>", "<openlines.7.x.1@example.test>"]) == []
