"""The client's own address and scheme behind reverse proxies that the hub trusts.

Behind nginx every request comes from the proxy's address: the widget's budget per address and
the login lock per address would count every visitor and every operator as one, so that one
person's failed logins could lock everyone out. A proxy names the client in
``X-Forwarded-For`` and the scheme the browser used in ``X-Forwarded-Proto``; those headers are
believed only from a peer in ``trusted_proxies``, since anyone else could write them.

``X-Forwarded-For`` is read from the right, the way the proxies appended to it: each hop that
is a trusted proxy passes the question to the one before it, and the first hop that is not is
the client. When every hop is trusted, the left-most one is the client. A hop that is not an
address ends the walk at the last address known.

aiohttp-remotes' strict mode refuses a peer outside the trusted list, which a hub reached both
directly and through a proxy needs to accept, and its relaxed mode believes whoever connects.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("trusted_proxies", tuple)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket names an IPv4 peer as ::ffff:a.b.c.d: it is that IPv4 address.
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return mapped or address


def client_address(
    peer: Address, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> Address:
    """The client behind ``peer``, a trusted proxy: the first hop of ``forwarded_for`` (the
    header's lines, in order) that is not a trusted proxy, walking from the right."""
    current = peer
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _is_trusted(current, trusted):
            break
    return current


def _is_trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


@web.middleware
async def behind_proxies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hand the handler the request as the client made it: its address, and its scheme when
    the proxy terminated TLS (so that the session cookie is ``Secure``)."""
    trusted = request.app.get(TRUSTED_PROXIES, ())
    peer = _address(request.remote) if trusted and request.remote else None
    if peer is None or not _is_trusted(peer, trusted):
        return await handler(request)
    client = str(client_address(peer, request.headers.getall(hdrs.X_FORWARDED_FOR, []), trusted))
    # The nearest proxy's word on the scheme: the right-most entry.
    said = request.headers.get(hdrs.X_FORWARDED_PROTO, "").split(",")[-1].strip().lower()
    scheme = said if said in ("http", "https") else request.scheme
    if client != request.remote or scheme != request.scheme:
        request = request.clone(remote=client, scheme=scheme)
    return await handler(request)
