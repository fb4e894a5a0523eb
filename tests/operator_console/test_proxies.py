"""The client behind trusted reverse proxies: who ``X-Forwarded-For`` names, hop by hop, and
the scheme the browser used, which makes the session cookie ``Secure``."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import aiohttp

from operator_console.proxies import client_address
from tests.support.console_world import World

LOCAL = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
INNER = (*LOCAL, ip_network("10.0.0.0/8"))
NGINX = ip_address("127.0.0.1")


def walk(*lines: str, trusted: tuple[object, ...] = LOCAL) -> str:
    return str(client_address(NGINX, lines, trusted))  # type: ignore[arg-type]


def test_the_hop_the_nearest_untrusted_proxy_saw_is_the_client() -> None:
    assert walk("203.0.113.9") == "203.0.113.9"
    # A client that writes the header itself only adds hops to the left of the real one.
    assert walk("198.51.100.7, 203.0.113.9") == "203.0.113.9"
    assert walk("198.51.100.7", "203.0.113.9") == "203.0.113.9"  # two header lines
    # Trusted hops in between (a load balancer inside) are passed over.
    assert walk("203.0.113.9, 10.1.2.3", trusted=INNER) == "203.0.113.9"
    assert walk("203.0.113.9, 10.1.2.3") == "10.1.2.3"
    # Every hop trusted: the left-most is the client.
    assert walk("10.0.0.5, 10.1.2.3", trusted=INNER) == "10.0.0.5"


def test_ports_brackets_and_garbage() -> None:
    assert walk("203.0.113.9:51000") == "203.0.113.9"
    assert walk("[2001:db8::1]:443") == "2001:db8::1"
    assert walk("2001:db8::1") == "2001:db8::1"
    assert walk("::ffff:203.0.113.9") == "203.0.113.9"
    assert walk("203.0.113.9, ::ffff:127.0.0.1") == "203.0.113.9"  # a trusted hop, mapped
    # A hop that is no address ends the walk at the last address known.
    assert walk("unknown") == "127.0.0.1"
    assert walk("203.0.113.9, unknown") == "127.0.0.1"
    assert walk("unknown, 203.0.113.9") == "203.0.113.9"
    assert walk("", " , ") == "127.0.0.1"


async def login_cookie(hub: str, headers: dict[str, str]) -> str:
    # The browser's origin is the one it used: https in front of the proxy.
    scheme = headers.get("X-Forwarded-Proto", "http")
    origin = hub.replace("http:", f"{scheme}:", 1)
    async with (
        aiohttp.ClientSession(headers={"Origin": origin} | headers) as http,
        http.post(f"{hub}/api/login", json={"login": "olga", "password": "pw-olga"}) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return resp.headers["Set-Cookie"]


async def test_the_session_cookie_is_secure_when_the_proxy_says_https(
    hub: str, world: World
) -> None:
    assert "Secure" in await login_cookie(hub, {"X-Forwarded-Proto": "https"})
    assert "Secure" not in await login_cookie(hub, {"X-Forwarded-Proto": "http"})
    assert "Secure" not in await login_cookie(hub, {})
