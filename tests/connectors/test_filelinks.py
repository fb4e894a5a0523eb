"""Signed file links and the upload type check, on plain data."""

from __future__ import annotations

import pytest

from connectors.filelinks import FileLinks, check_token, sign_token
from connectors.filetypes import Refused, clean_name, sniff
from connectors.viber.render import render
from core.envelope import Attachment, OutboundMessage, utcnow

SHA = "a" * 64
SECRET = b"hub secret"


def test_a_link_verifies_until_it_expires_and_only_with_the_hub_secret() -> None:
    token = sign_token(SECRET, 7, SHA, expires=1000)
    assert check_token(SECRET, token, now=999) == (7, SHA)
    assert check_token(SECRET, token, now=1001) is None
    assert check_token(b"other", token, now=999) is None
    stretched = token.replace(".1000.", ".9999.")
    assert check_token(SECRET, stretched, now=999) is None
    moved = token.replace("7.", "8.", 1)
    assert check_token(SECRET, moved, now=999) is None


def test_links_are_made_only_for_stored_files() -> None:
    links = FileLinks(SECRET, "https://hub.example/", ttl_s=3600)
    stored = Attachment(kind="image", url=f"/api/attachments/3/{SHA}")
    url = links.absolute(stored, now=0)
    assert url is not None and url.startswith("https://hub.example/files/3.")
    assert links.path(Attachment(kind="file", url="https://elsewhere/x"), now=0) is None


def test_types_come_from_the_bytes_and_dangerous_files_are_refused() -> None:
    assert sniff("photo.txt", b"\x89PNG\r\n\x1a\n....").mime == "image/png"
    assert sniff("scan", b"%PDF-1.7").kind == "file"
    assert sniff("report.docx", b"PK\x03\x04").mime.endswith("wordprocessingml.document")
    for name, head in (
        ("a.exe", b"MZ.."),
        ("run.sh", b"#!/bin/sh"),
        ("x.svg", b"<svg>"),
        ("page.txt", b"  <!DOCTYPE html>"),
        ("noext", b"plain"),
    ):
        with pytest.raises(Refused):
            sniff(name, head)
    assert clean_name('C:\\Users\\me\\..\\"evil".png') == "evil.png"
    assert clean_name("../../") == "file"


def test_viber_sends_small_pictures_as_pictures_and_the_rest_as_files() -> None:
    message = OutboundMessage(
        message_id=1,
        dialog_id=2,
        channel_id=3,
        external_user_id="u",
        author="operator",
        text="",
        at=utcnow(),
        attachments=(
            Attachment(kind="image", url="a", mime="image/png", size=10, name="s.png"),
            Attachment(kind="image", url="b", mime="image/png", size=2_000_000, name="b.png"),
            Attachment(kind="file", url="c", mime="application/pdf", size=5, name="p.pdf"),
            Attachment(kind="file", url="d", name="gone.pdf"),
        ),
    )
    bodies = render(message, "Shop", link=lambda a: None if a.url == "d" else f"https://h/{a.url}")
    assert [b["type"] for b in bodies] == ["text", "picture", "file", "file"]
    assert bodies[0]["text"] == "[attachments: gone.pdf]"
    assert bodies[2]["file_name"] == "b.png" and bodies[3]["size"] == 5
