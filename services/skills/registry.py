"""What skills knows of coworkers: their state now (the coworker table) and every manifest version
it has seen announced (kept in PostgreSQL, because work finishes on the version it started on)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from contracts.coworkers import CoworkerManifest
from contracts.events import BudgetState, BudgetStatus, CoworkerStated
from runtime.faults import RetryLater
from runtime.table import TopicTable
from services.skills.policy import Facts


class Registry:
    def __init__(self, coworkers: TopicTable[CoworkerStated], budgets: TopicTable[BudgetState]) -> None:
        self.coworkers, self.budgets = coworkers, budgets
        self._versions: dict[tuple[str, int], CoworkerManifest] = {}

    async def remember(self, conn: asyncpg.Connection, state: CoworkerStated) -> None:
        for version, manifest in ((state.data.active_version, state.data.active), (state.data.draft_version, state.data.draft)):
            if version is not None and manifest is not None:
                await conn.execute(
                    "INSERT INTO coworker_versions (name, version, manifest) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    state.data.coworker,
                    version,
                    manifest.model_dump_json(),
                )

    async def manifest(self, conn: asyncpg.Connection | asyncpg.Pool, name: str, version: int) -> CoworkerManifest | None:
        key = (name, version)
        if key not in self._versions:
            raw = await conn.fetchval("SELECT manifest FROM coworker_versions WHERE name = $1 AND version = $2", name, version)
            if raw is None:
                return None
            self._versions[key] = CoworkerManifest.model_validate_json(raw)
        return self._versions[key]

    async def facts(self, conn: asyncpg.Connection | asyncpg.Pool, name: str, version: int, skill: str | None = None) -> Facts:
        """What the authoriser needs to know about ``name`` working on ``version`` (and ``skill``); the
        database is read only for a version not seen yet (a pool then lends a connection for it)."""
        row = self.coworkers.get(name)
        manifest = await self.manifest(conn, name, version)
        if row is not None and manifest is None and version <= (row.data.active_version or 0):
            # The table has announced the version but our copy of it is not stored yet.
            raise RetryLater(f"version {version} of {name} is announced but not stored yet")
        return Facts(name, version, row.data.state if row else None, manifest, self.budget(name, manifest, skill))

    def budget(self, name: str, manifest: CoworkerManifest | None, skill: str | None = None, *, now: datetime | None = None) -> BudgetStatus | None:
        """The budget that decides: the first spent one of those that apply (the team's, the coworker's,
        the skill's in this team — all nested budgets hold, not only the narrowest), else the coworker's.
        A record whose period is over counts as nothing spent: the budget has reset."""
        if manifest is None:
            return None
        now = now or datetime.now(UTC)
        keys = [f"team:{manifest.team}", f"coworker:{name}"] + ([f"skill:{manifest.team}/{skill}"] if skill else [])
        current = {key: record for key in keys if (record := self._current(key, now)) is not None}
        spent = next((current[key] for key in keys if key in current and current[key].exhausted), None)
        if spent is not None:
            return spent
        if f"coworker:{name}" in current:
            return current[f"coworker:{name}"]
        return BudgetStatus(budget=f"coworker:{name}", period=now.strftime("%Y-%m"), spent_usd=Decimal(0), limit_usd=manifest.budget.monthly_usd)

    def _current(self, key: str, now: datetime) -> BudgetStatus | None:
        record = self.budgets.get(key)
        if record is None:
            return None
        status = record.data
        if status.period_end is not None:
            return status if status.period_end > now else None
        return status if status.period == now.strftime("%Y-%m") else None  # records from before periods had ends
