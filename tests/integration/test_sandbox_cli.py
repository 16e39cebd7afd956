"""``workforce sandbox seed --reset`` puts the simulated organisation back as seeded: what the skills
changed is forgotten, and the tokens issued to coworkers still work."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from deploy.cli import app
from deploy.sandbox import server, tokens
from deploy.sandbox.seed import seed_sandboxes


async def test_a_reset_forgets_what_the_skills_did_and_keeps_the_tokens(database_url: str, monkeypatch) -> None:  # noqa: ANN001
    database = server.database(database_url)
    await database.open()
    try:
        async with database.pool.acquire() as conn:
            await seed_sandboxes(conn, 30)
            token = await tokens.issue(conn, "okta", "jordan", 1, ["users.read"])
            await conn.execute("UPDATE okta_users SET status = 'SUSPENDED' WHERE login = 'ana.silva@acme.example'")
            await conn.execute("DELETE FROM okta_app_users WHERE user_id = (SELECT id FROM okta_users WHERE login = 'john.miller@acme.example')")
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # no broker is needed to seed
        result = await asyncio.to_thread(CliRunner().invoke, app, ["sandbox", "seed", "--reset", "--employees", "30"])
        assert result.exit_code == 0, result.output
        assert "reset and seeded: okta 30" in result.output
        async with database.pool.acquire() as conn:
            assert await conn.fetchval("SELECT status FROM okta_users WHERE login = 'ana.silva@acme.example'") == "ACTIVE"
            assert await conn.fetchval("SELECT count(*) FROM okta_app_users a JOIN okta_users u ON u.id = a.user_id WHERE u.login = 'john.miller@acme.example'") > 0
            assert await tokens.authenticate(conn, "okta", token) is not None, "the issued token still works"
        again = await asyncio.to_thread(CliRunner().invoke, app, ["sandbox", "seed", "--employees", "30"])
        assert again.exit_code == 0 and "okta 0" in again.output, again.output
    finally:
        await database.close()
