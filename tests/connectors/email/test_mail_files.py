"""Which files a mail to a visitor attaches: in order while they fit the cap, each once; the
others named with a signed link, or as gone when the store no longer has them."""

from __future__ import annotations

from pathlib import Path

from connectors.attachments import AttachmentStore, attachment_url
from connectors.email.mail_files import MailFiles
from connectors.email.parse import MailFile
from connectors.filelinks import FileLinks
from core.envelope import Attachment

MB = 1024 * 1024


async def test_files_fit_in_order_repeats_attach_once_and_the_rest_get_links(
    tmp_path: Path,
) -> None:
    store = AttachmentStore(tmp_path)
    files = MailFiles(store, FileLinks(b"k" * 32, "https://chat.example"), 2 * MB)
    small = await store.save(5, b"%PDF small", kind="file", name="a.pdf", mime="application/pdf")
    big = await store.save(5, b"x" * (3 * MB // 2), kind="file", name="big.bin")
    second = await store.save(5, b"y" * MB, kind="file", name="", mime="text/plain")
    gone = Attachment(kind="file", url=attachment_url(5, "0" * 64), name="old.pdf")
    found = await files.collect([small, big, small, second, gone])

    assert found.attached == [
        MailFile("a.pdf", "application/pdf", b"%PDF small"),
        MailFile("big.bin", "application/octet-stream", b"x" * (3 * MB // 2)),
    ]
    assert found.line_of(small) == "[file: a.pdf]"
    assert found.line_of(second).startswith(
        "[file: file, 1.0 MB, too large to attach: https://chat.example/files/5."
    )
    assert found.line_of(gone) == "[file: old.pdf, no longer available]"


async def test_a_cap_of_zero_attaches_nothing(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    att = await store.save(1, b"%PDF", kind="file", name="a.pdf", mime="application/pdf")
    found = await MailFiles(store, FileLinks(b"k" * 32), 0).collect([att])
    assert found.attached == [] and "too large to attach: /files/1." in found.line_of(att)
