"""Installation secrets: made once per database, the same for every process that shares it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.db import make_engine, make_sessionmaker, upgrade
from core.installation import installation_secret


async def test_one_database_keeps_one_secret_and_another_database_has_its_own(
    tmp_path: Path,
) -> None:
    secrets: list[bytes] = []
    for name in ("a.db", "b.db"):
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / name}")
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        # Two processes asking at once, then a later start: one value.
        first, second = await asyncio.gather(
            installation_secret(sessions, "vk_random_id"),
            installation_secret(sessions, "vk_random_id"),
        )
        assert first == second == await installation_secret(sessions, "vk_random_id")
        assert len(first) == 32 and await installation_secret(sessions, "other") != first
        secrets.append(first)
        await engine.dispose()
    assert secrets[0] != secrets[1]
