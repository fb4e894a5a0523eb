"""A POST whose body arrives as a real network delivers a longer one: the head first, then the
body in parts with pauses between them, so that the server reads it in as many goes. Over
loopback, a client library writes a small body in one go and the server reads it in one."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


async def post_in_pieces(
    url: str, raw: bytes, headers: dict[str, str], pieces: int = 4, pause_s: float = 0.05
) -> tuple[int, str]:
    """POST ``raw`` to ``url`` in ``pieces`` parts; the answer's status and body."""
    target = urlsplit(url)
    assert target.hostname is not None and target.port is not None
    reader, writer = await asyncio.open_connection(target.hostname, target.port)
    path = target.path + (f"?{target.query}" if target.query else "")
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {target.netloc}",
        f"Content-Length: {len(raw)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        size = -(-len(raw) // pieces)
        for start in range(0, len(raw), size):
            await writer.drain()
            await asyncio.sleep(pause_s)
            writer.write(raw[start : start + size])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode(errors="replace")
