"""Signed site identities: a website vouches for its logged-in user, the widget passes it on.

The site signs ``"{id}\\n{ts}\\n{name}\\n{email}"`` (absent fields as empty strings) with the
chat's ``site_secret`` using HMAC-SHA256 and gives the hex digest to the widget. Only a valid
signature lets the id reach the CRM as ``ClientHints.site_identity``, a strong key that merges
clients automatically, so every check here fails closed. Pure: no I/O, the clock is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from core.envelope import ClientHints
from core.limits import signature_matches

if TYPE_CHECKING:
    from connectors.webchat.parse import SiteIdentity

MAX_AGE_S = 24 * 3600
"""How long a signature is good for. A signed id is a bearer credential for "this is user X":
a page cached or leaked later must not let someone else chat as X forever. A day covers a
long-open tab; a socket that reconnects after that continues anonymously."""
MAX_SKEW_S = 300
"""How far in the future ``ts`` may be: the site's and the hub's clocks differ a little."""


def canonical(id_: str, ts: int, name: str = "", email: str = "") -> bytes:
    """The bytes a site signs. The fields cannot contain newlines (parse refuses control
    characters), so the joined string is unambiguous."""
    return f"{id_}\n{ts}\n{name}\n{email}".encode()


def sign(secret: str, id_: str, ts: int, name: str = "", email: str = "") -> str:
    """The hex signature a site would compute (the reference for docs and tests)."""
    return hmac.new(secret.encode(), canonical(id_, ts, name, email), hashlib.sha256).hexdigest()


def verify(secret: str | None, identity: SiteIdentity, now: float) -> str | None:
    """None when ``identity`` is signed with ``secret`` and fresh, else why not (for people)."""
    if not secret:
        return "this chat does not accept site identities (no site secret is configured)"
    if identity.ts > now + MAX_SKEW_S:
        return "ts is in the future; check the site's clock"
    if identity.ts < now - MAX_AGE_S:
        return f"the signature has expired (ts older than {MAX_AGE_S} s); sign it again"
    expected = sign(secret, identity.id, identity.ts, identity.name, identity.email)
    if not signature_matches(expected, identity.signature.lower()):
        return "the signature does not match"
    return None


def hints_of(identity: SiteIdentity) -> ClientHints:
    """What a verified identity tells the CRM.

    The id is a strong key, and so is a signed email: the HMAC covers it, so the site vouches
    that its signed-in user owns the address (it is the account's email), and the CRM stores it
    verified and matches the client's mail by it. What a visitor types in a form stays their
    own word and is never verified (``visitor_frames``).
    """
    return ClientHints(
        name=identity.name,
        email=identity.email or None,
        email_verified=bool(identity.email),
        site_identity=identity.id,
    )
