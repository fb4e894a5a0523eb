"""Single commands of one turn of the event loop share a round trip (``core.coalesce``), on a
real server: each caller gets its own reply or its own error, as if it had sent it alone."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from core.coalesce import Coalescer
from core.redis_connect import connect
from core.redis_pool import InlineSend


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = connect(redis_url, max_connections=4)
    await redis.ping()  # the connection made, so that only commands are written below
    yield redis
    await redis.aclose()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per write to a Redis socket: a round trip."""
    sent: list[int] = []
    real = InlineSend.send_packed_command

    async def counted(self: InlineSend, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        await real(self, command, check_health)

    monkeypatch.setattr(InlineSend, "send_packed_command", counted)
    return sent


async def test_the_commands_of_one_turn_go_in_one_round_trip_in_order(
    client: Redis, writes: list[int]
) -> None:
    together = Coalescer(client)
    ids = await asyncio.gather(
        *(together.execute("XADD", "turn", "*", "n", str(n)) for n in range(10))
    )
    assert len(writes) == 1
    assert (together.trips, together.commands) == (1, 10)
    entries: Any = await client.xrange("turn")
    assert [entry_id for entry_id, _fields in entries] == ids
    assert [fields["n"] for _id, fields in entries] == [str(n) for n in range(10)]


async def test_a_lone_command_goes_alone_and_the_next_turn_makes_a_trip_of_its_own(
    client: Redis, writes: list[int]
) -> None:
    together = Coalescer(client)
    assert await together.execute("INCR", "lone") == 1
    assert await together.execute("INCR", "lone") == 2
    assert len(writes) == 2
    assert (together.trips, together.commands) == (2, 2)


async def test_an_error_goes_to_its_caller_only(client: Redis) -> None:
    await client.set("text", "not a stream")
    together = Coalescer(client)
    answers = await asyncio.gather(
        together.execute("XADD", "fine", "*", "n", "1"),
        together.execute("XADD", "text", "*", "n", "2"),  # WRONGTYPE
        together.execute("INCR", "counter"),
        return_exceptions=True,
    )
    assert together.trips == 1
    assert isinstance(answers[0], str)
    assert isinstance(answers[1], ResponseError) and "WRONGTYPE" in str(answers[1])
    assert answers[2] == 1
    assert await client.xlen("fine") == 1


async def test_a_cancelled_caller_leaves_the_others_their_replies(client: Redis) -> None:
    together = Coalescer(client)
    calls = [asyncio.create_task(together.execute("INCR", "shared")) for _ in range(3)]
    await asyncio.sleep(0)  # all three held, none sent yet
    calls[1].cancel()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(answers[1], asyncio.CancelledError)
    assert {answers[0], answers[2]} <= {1, 2, 3} and answers[0] != answers[2]
    # Already held when cancelled, it went out with the others, as a command on the wire does.
    assert await client.get("shared") == "3"


async def test_a_redis_that_is_gone_fails_every_caller() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    gone = connect(f"redis://127.0.0.1:{port}/0", max_connections=2)
    together = Coalescer(gone)
    try:
        answers = await asyncio.gather(
            *(together.execute("INCR", "n") for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(answer, RedisConnectionError) for answer in answers)
        # And the next turn tries again, on its own.
        with pytest.raises(RedisConnectionError):
            await together.execute("INCR", "n")
    finally:
        await gone.aclose()
