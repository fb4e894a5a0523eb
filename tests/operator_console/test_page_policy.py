"""What the console's pages let the browser connect to: the page's own host, by both socket
schemes, and nothing a forged Host header writes into the policy."""

from __future__ import annotations

from aiohttp.test_utils import make_mocked_request

from operator_console.page_policy import page_headers


def connect_src(host: str) -> str:
    policy = page_headers(make_mocked_request("GET", "/", headers={"Host": host}))
    [directive] = [d for d in policy["Content-Security-Policy"].split("; ") if "connect" in d]
    return directive


def test_the_pages_own_host_is_named_for_its_socket() -> None:
    assert connect_src("chat.example.com") == (
        "connect-src 'self' ws://chat.example.com wss://chat.example.com"
    )
    assert connect_src("127.0.0.1:8080").endswith("wss://127.0.0.1:8080")
    assert connect_src("[::1]:8080").endswith("wss://[::1]:8080")


def test_a_host_header_cannot_widen_the_policy() -> None:
    assert connect_src("a.example; script-src *") == "connect-src 'self'"
    assert connect_src("a.example *") == "connect-src 'self'"
