"""Every registered kind implements the connector contract and describes itself sanely."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import BaseModel

from config.settings import Settings
from connectors.base import ChannelKind, Connector
from connectors.context import ConnectorContext
from connectors.registry import KINDS

TEXT_LIMITS = {"telegram": 4096, "viber": 7000, "vk": 9000, "webchat": None, "email": None}


def test_the_registry_lists_every_channel_once_under_its_own_name() -> None:
    assert set(KINDS) == set(TEXT_LIMITS)
    for name, kind in KINDS.items():
        assert kind.kind == name
        # The description lives in the channel's own package.
        assert importlib.import_module(f"connectors.{name}").KIND is kind


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_a_kind_declares_sane_capabilities(kind: ChannelKind) -> None:
    caps = kind.capabilities
    assert caps.label.strip() == caps.label != ""
    assert [k.capabilities.label for k in KINDS.values()].count(caps.label) == 1
    assert caps.max_text == TEXT_LIMITS[kind.kind]
    assert caps.echo == (kind.kind == "webchat")  # only the web chat shows other tabs
    assert caps.files
    with pytest.raises(AttributeError):
        caps.label = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_a_kind_config_model_names_its_secrets(kind: ChannelKind) -> None:
    assert issubclass(kind.config, BaseModel)
    assert kind.config.model_config.get("extra") == "forbid"
    assert kind.secrets <= set(kind.config.model_fields), "a secret that is not a setting"
    assert kind.secrets, "every kind has a credential or a signing key to hide"


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
async def test_a_kind_makes_a_connector_with_its_routes(kind: ChannelKind, tmp_path: Path) -> None:
    context = ConnectorContext(web.Application(), Settings(data_dir=tmp_path))
    connector = kind.make(context)
    try:
        assert isinstance(connector, Connector)
        assert connector.kind == kind.kind
        paths = {r.path for r in connector.routes() if isinstance(r, web.RouteDef)}
        hook = f"/hooks/{kind.kind}/{{key}}"
        assert (hook in paths) == kind.webhook
    finally:
        await connector.close()


def test_admin_links_come_from_the_kind() -> None:
    links = KINDS["webchat"].links("shop", "https://hub.example")
    assert links["chat_url"] == "https://hub.example/chat/shop"
    assert 'data-channel="shop"' in links["embed"]
    for kind in ("telegram", "viber", "vk"):  # the address the platform calls (VK: to paste)
        assert KINDS[kind].links("shop", "https://hub.example") == {
            "webhook_url": f"https://hub.example/hooks/{kind}/shop"
        }
    assert KINDS["email"].links("shop", "https://hub.example") == {}
