"""A file as an upload answered it and a message sends it back: the stored attachment and the
token that proves it was uploaded for this message's sender (an operator's dialog, or a
visitor of a web chat) exactly as it is. Each upload endpoint computes and checks its own
token; the descriptor they send back is the same."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.envelope import Attachment


class UploadedFile(BaseModel):
    """A file as the upload answered it and the message sends it back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["image", "file"]
    url: str = Field(max_length=200)
    name: str = Field(max_length=255)
    mime: str = Field(max_length=255)
    size: int = Field(ge=1)
    token: str = Field(max_length=100)

    def attachment(self) -> Attachment:
        """The attachment the message carries (without the token)."""
        return Attachment(
            kind=self.kind, url=self.url, name=self.name, mime=self.mime, size=self.size
        )
