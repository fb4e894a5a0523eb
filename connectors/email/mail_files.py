"""The files of a mail the hub writes to a web chat visitor (an operator's answer, a
transcript), read from the attachment store.

Files go in as MIME attachments while their total stays within the hub's
``mail_files_max_mb``; one that would pass it, or one the store no longer holds, is named in
the text instead, with a signed public link (``/files/…``) when it is still stored. Mail
servers refuse large messages outright (often at 10-25 MB), and a refused mail would lose the
text as well as the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage

from connectors.attachments import AttachmentStore, parse_url
from connectors.context import ConnectorContext
from connectors.email.parse import MailFile
from connectors.filelinks import FileLinks
from core.envelope import Attachment


@dataclass
class FilesOfMail:
    """What one mail carries: the attached files, and a line for each file left out.

    ``left_out`` maps an attachment's url to its line ("prices.pdf (24.0 MB): <link>")."""

    attached: list[MailFile] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)

    def line_of(self, att: Attachment) -> str:
        """The line naming ``att`` in the mail's text: its name when attached."""
        return self.left_out.get(att.url) or f"[file: {file_name(att)}]"


@dataclass(frozen=True)
class MailFiles:
    """Reads the files of a mail within the size cap; ``max_bytes`` 0 attaches none."""

    store: AttachmentStore
    links: FileLinks
    max_bytes: int

    async def collect(self, attachments: Iterable[Attachment]) -> FilesOfMail:
        """The files of ``attachments`` that fit, in order; the rest as lines with links."""
        found = FilesOfMail()
        seen: set[str] = set()
        room = self.max_bytes
        for att in attachments:
            if att.url in seen:
                continue  # the same file sent twice in a dialog is attached once
            seen.add(att.url)
            stored = await self.store.read(att.url) if att.size <= room else None
            if stored is not None and len(stored[0]) <= room:
                data, meta = stored
                found.attached.append(MailFile(file_name(att, meta.name), meta.mime, data))
                room -= len(data)
                continue
            found.left_out[att.url] = self._line(att)
        return found

    def _line(self, att: Attachment) -> str:
        name = file_name(att)
        where = parse_url(att.url)
        stored = self.store.find(*where) if where is not None else None
        if stored is None:
            return f"[file: {name}, no longer available]"
        size = stored.path.stat().st_size / (1024 * 1024)
        return f"[file: {name}, {size:.1f} MB, too large to attach: {self.links.absolute(att)}]"


def file_name(att: Attachment, stored_name: str = "") -> str:
    """The name a file goes by in a mail."""
    return att.name or stored_name or "file"


def mail_files_of(context: ConnectorContext) -> MailFiles:
    """The hub's mail files: its attachment store, its public links, its size cap.

    Call it once the application started: the links are signed with the hub's secret."""
    settings = context.settings
    links = FileLinks(context.secret, settings.effective_public_url,
                      settings.file_link_hours * 3600)  # fmt: skip
    return MailFiles(
        AttachmentStore(context.data_dir), links, settings.mail_files_max_mb * 1024 * 1024
    )


def attach(mail: EmailMessage, files: Iterable[MailFile]) -> None:
    """Add ``files`` to ``mail`` as MIME attachments (after its text is set)."""
    for file in files:
        maintype, _, subtype = file.mime.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.name)
