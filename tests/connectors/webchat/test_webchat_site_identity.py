"""Signed site identities: the shape of the frames that carry one, and the signature check."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from connectors.registry import KINDS
from connectors.webchat.identity import MAX_AGE_S, MAX_SKEW_S, hints_of, sign, verify
from connectors.webchat.parse import (
    FrameError,
    Hello,
    Identify,
    SiteIdentity,
    parse_frame,
    parse_identity,
)
from core.db.schema import Channel
from operator_console.channel_kinds import (
    MASK,
    ConfigError,
    channel_json,
    check_config,
    keep_masked,
)

SECRET = "s3cret-of-the-shop-0123456789"
NOW = 1_800_000_000


def signed(id_: str = "u-42", ts: int = NOW, name: str = "", email: str = "") -> SiteIdentity:
    identity = {"id": id_, "ts": ts, "signature": sign(SECRET, id_, ts, name, email)}
    if name:
        identity["name"] = name
    if email:
        identity["email"] = email
    checked = parse_identity(identity)
    assert isinstance(checked, SiteIdentity)
    return checked


def test_the_signature_is_the_documented_recipe() -> None:
    # docs/PROTOCOL.md tells sites exactly this; a change here breaks every site.
    recipe = hmac.new(
        SECRET.encode(), b"u-42\n1800000000\nIvan\nivan@example.com", hashlib.sha256
    ).hexdigest()
    assert sign(SECRET, "u-42", NOW, "Ivan", "ivan@example.com") == recipe
    assert (
        sign(SECRET, "u-42", NOW)
        == hmac.new(SECRET.encode(), b"u-42\n1800000000\n\n", hashlib.sha256).hexdigest()
    )


def test_a_valid_fresh_signature_passes_in_either_hex_case() -> None:
    assert verify(SECRET, signed(), NOW) is None
    upper = signed().model_copy(update={"signature": signed().signature.upper()})
    assert verify(SECRET, upper, NOW) is None
    assert verify(SECRET, signed(name="Иван", email="i@example.com"), NOW + 60) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "u-43"}, "does not match"),
        ({"name": "Someone else"}, "does not match"),
        ({"email": "boss@example.com"}, "does not match"),
        ({"ts": NOW + 1}, "does not match"),
        ({"signature": "0" * 64}, "does not match"),
    ],
)
def test_any_changed_field_breaks_the_signature(change: dict[str, Any], reason: str) -> None:
    forged = signed(name="Ivan", email="ivan@example.com").model_copy(update=change)
    assert reason in (verify(SECRET, forged, NOW) or "")


def test_another_secret_no_secret_and_stale_or_future_timestamps_are_refused() -> None:
    assert "does not match" in (verify("another-secret-0123456789", signed(), NOW) or "")
    assert "no site secret" in (verify(None, signed(), NOW) or "")
    assert "no site secret" in (verify("", signed(), NOW) or "")
    assert verify(SECRET, signed(), NOW + MAX_AGE_S) is None
    assert "expired" in (verify(SECRET, signed(), NOW + MAX_AGE_S + 1) or "")
    assert verify(SECRET, signed(), NOW - MAX_SKEW_S) is None
    assert "future" in (verify(SECRET, signed(), NOW - MAX_SKEW_S - 1) or "")


def test_only_the_id_is_a_strong_key_and_the_email_a_plain_hint() -> None:
    hints = hints_of(signed(name="Ivan", email="ivan@example.com"))
    assert hints.site_identity == "u-42" and hints.name == "Ivan"
    assert hints.email == "ivan@example.com" and not hints.phone_verified
    assert hints_of(signed()).email is None


def test_hello_and_identify_frames_carry_the_identity_unchecked() -> None:
    identity = {"id": "u-42", "ts": NOW, "signature": "ab" * 32}
    hello = parse_frame(json.dumps({"type": "hello", "identity": identity}))
    assert isinstance(hello, Hello) and hello.identity == identity
    assert isinstance(parse_frame('{"type": "hello"}'), Hello)
    assert parse_frame('{"type": "hello", "identity": null}') == Hello(type="hello")
    # A malformed identity must not cost the visitor the chat: the hello still parses.
    odd = parse_frame('{"type": "hello", "identity": "u-42"}')
    assert isinstance(odd, Hello) and odd.identity == "u-42"
    ident = parse_frame(json.dumps({"type": "identify", "identity": identity}))
    assert isinstance(ident, Identify) and ident.identity == identity
    missing = parse_frame('{"type": "identify"}')
    assert isinstance(missing, FrameError) and missing.code == "bad_frame"


@pytest.mark.parametrize(
    ("identity", "where"),
    [
        ("u-42", "identity: Input should be a valid dictionary"),
        ({"ts": NOW, "signature": "ab" * 32}, "identity.id: Field required"),
        ({"id": "", "ts": NOW, "signature": "ab" * 32}, "identity.id: "),
        ({"id": "a\nb", "ts": NOW, "signature": "ab" * 32}, "identity.id: "),
        ({"id": "x" * 256, "ts": NOW, "signature": "ab" * 32}, "identity.id: "),
        ({"id": "u", "signature": "ab" * 32}, "identity.ts: Field required"),
        ({"id": "u", "ts": -1, "signature": "ab" * 32}, "identity.ts: "),
        ({"id": "u", "ts": NOW, "signature": "xyz"}, "identity.signature: "),
        ({"id": "u", "ts": NOW, "signature": "ab" * 32, "name": "a\rb"}, "identity.name: "),
        ({"id": "u", "ts": NOW, "signature": "ab" * 32, "admin": True}, "identity.admin: "),
    ],
)
def test_a_malformed_identity_is_a_bad_identity_naming_the_field(identity: Any, where: str) -> None:
    checked = parse_identity(identity)
    assert isinstance(checked, FrameError) and checked.code == "bad_identity"
    assert checked.reason.startswith(where), checked.reason


def test_the_site_secret_is_a_masked_webchat_setting() -> None:
    assert "site_secret" in KINDS["webchat"].secrets
    assert check_config("webchat", {})["site_secret"] is None
    assert check_config("webchat", {"site_secret": SECRET})["site_secret"] == SECRET
    with pytest.raises(ConfigError) as short:
        check_config("webchat", {"site_secret": "short"})
    assert short.value.field == "config.site_secret"
    chat = Channel(
        id=1, kind="webchat", key="shop", name="Shop", line_id=1, enabled=True,
        config={"site_secret": SECRET},
    )  # fmt: skip
    view = channel_json(chat, "https://hub.example")
    assert view["config"]["site_secret"] == MASK + SECRET[-4:]
    # Fields the stored config predates show with the defaults the connector runs with.
    assert view["config"]["upload_max_mb"] == 10 and view["config"]["prechat"] is False
    assert view["secret_fields"] == ["site_secret"]
    # The mask sent back on a PATCH keeps the stored secret.
    assert "site_secret" not in keep_masked(view["config"])
