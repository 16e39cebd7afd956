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

    async def manifest(self, conn: asyncpg.Connection, name: str, version: int) -> CoworkerManifest | None:
        key = (name, version)
        if key not in self._versions:
            raw = await conn.fetchval("SELECT manifest FROM coworker_versions WHERE name = $1 AND version = $2", name, version)
            if raw is None:
                return None
            self._versions[key] = CoworkerManifest.model_validate_json(raw)
        return self._versions[key]

    async def facts(self, conn: asyncpg.Connection, name: str, version: int) -> Facts:
        """What the authoriser needs to know about ``name`` working on ``version``."""
        row = self.coworkers.get(name)
        manifest = await self.manifest(conn, name, version)
        if row is not None and manifest is None and version <= (row.data.active_version or 0):
            # The table has announced the version but our copy of it is not stored yet.
            raise RetryLater(f"version {version} of {name} is announced but not stored yet")
        return Facts(name, version, row.data.state if row else None, manifest, self.budget(name, manifest))

    def budget(self, name: str, manifest: CoworkerManifest | None) -> BudgetStatus | None:
        """This month's spend against the manifest's budget; no record this month means nothing spent."""
        if manifest is None:
            return None
        period = datetime.now(UTC).strftime("%Y-%m")
        record = self.budgets.get(f"coworker:{name}")
        spent = record.data.spent_usd if record is not None and record.data.period == period else Decimal(0)
        return BudgetStatus(budget=f"coworker:{name}", period=period, spent_usd=spent, limit_usd=manifest.budget.monthly_usd)
