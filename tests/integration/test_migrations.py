"""Migrations: applied once, in order, and an edited applied migration refuses to start."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from runtime.db import migrate


async def test_migrations_apply_once_and_in_order(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (x int);")
    (tmp_path / "0002_second.sql").write_text("INSERT INTO a VALUES (1);")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        assert await migrate(pool, "svc", tmp_path) == ["0001_first.sql", "0002_second.sql"]
        assert await migrate(pool, "svc", tmp_path) == []
        assert await pool.fetchval("SELECT count(*) FROM svc.a") == 1
    finally:
        await pool.close()


async def test_an_applied_migration_that_was_edited_stops_the_service(database_url: str, tmp_path: Path) -> None:
    first = tmp_path / "0001_first.sql"
    first.write_text("CREATE TABLE a (x int);")
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await migrate(pool, "svc", tmp_path)
        first.write_text("CREATE TABLE a (x bigint);")
        with pytest.raises(RuntimeError, match="0001_first.sql of schema svc was edited after it was applied"):
            await migrate(pool, "svc", tmp_path)
    finally:
        await pool.close()
