"""Billing's configuration file (``deploy/workforce/budgets.yaml``): team and skill budgets, the
per-ticket caps, the prices of local models (the only models priced here: any other model needs a
price in the snapshot, or its usage is refused), and the human baseline per team."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.events import Price
from contracts.files import read_yaml
from services.billing.periods import Period, PeriodKind

Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
PerMillion = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=10)]
MILLION = Decimal(1_000_000)


class ConfigError(ValueError):
    """The billing configuration cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PeriodSpec(_Strict):
    period: PeriodKind = "month"
    resets_at: time = time(0, 0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Europe/London)") from None
        return value

    @model_validator(mode="after")
    def _whole_hour(self) -> PeriodSpec:
        from datetime import UTC, datetime

        try:
            Period(self.period, self.resets_at, self.timezone).window(datetime.now(UTC))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self

    @property
    def rule(self) -> Period:
        return Period(self.period, self.resets_at, self.timezone)


class BudgetSpec(PeriodSpec):
    limit_usd: Money


class TeamSpec(_Strict):
    budget: BudgetSpec | None = None
    per_ticket_usd: Money | None = None
    human_cost_per_ticket_usd: Money | None = None
    skills: dict[str, BudgetSpec] = {}


class LocalPrice(_Strict):
    usd_per_million_tokens: PerMillion = Decimal(0)
    usd_per_cpu_second: PerMillion = Decimal(0)

    def price(self) -> Price:
        rate = self.usd_per_million_tokens / MILLION
        return Price(usd_per_input_token=rate, usd_per_cached_input_token=rate, usd_per_second=self.usd_per_cpu_second)


class BillingConfig(_Strict):
    alerts_pct: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)] = [50, 80, 95, 100]
    report_every_s: Annotated[float, Field(gt=0)] = 3600
    coworker_period: PeriodSpec = PeriodSpec()
    #: Models billing prices by configuration (besides the snapshot's); a model in neither is refused.
    local_models: dict[str, LocalPrice] = {}
    #: No longer used: a model with no price is refused, never priced by a default. Still accepted, so
    #: an older file loads (the service warns that it is ignored); remove it from the file.
    default_price: dict[str, Decimal] | None = None
    #: The models each service is configured to call (its own setting, declared here once more for
    #: the meter): a lease for, or usage of, any other model from that service is refused, and a
    #: service not named may bill none. Empty: any priced model from any writer of llm.usage.
    callers: dict[str, list[Annotated[str, Field(min_length=1, max_length=200)]]] = {}
    teams: dict[str, TeamSpec] = {}

    def caller_refusal(self, source: str, model: str) -> str | None:
        """Why ``source`` (``/services/<name>``, which its signature vouches for) may not bill ``model``."""
        if not self.callers:
            return None
        service = source.removeprefix("/services/")
        allowed = self.callers.get(service)
        if allowed is None:
            return f"billing's configuration names no models for {service!r} (callers in BILLING_CONFIG): its calls are not billed, so not made"
        if model not in allowed:
            return f"{service} is not configured to call {model!r} (billing's callers.{service}: {', '.join(allowed)}): add it there if it should"
        return None

    def local_prices(self, *, embed_usd_per_million_tokens: Decimal | None = None) -> dict[str, Price]:
        prices = {name: spec.price() for name, spec in self.local_models.items()}
        if embed_usd_per_million_tokens is not None:
            from runtime.embeddings import LOCAL_MODEL

            prices[LOCAL_MODEL] = LocalPrice(usd_per_million_tokens=embed_usd_per_million_tokens).price()
        return prices


def load_config(path: Path) -> BillingConfig:
    raw = read_yaml(path, ConfigError, missing="no such file (BILLING_CONFIG)") or {}
    try:
        return BillingConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigError(f"{path}: {problems}") from None
