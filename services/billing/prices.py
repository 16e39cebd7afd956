"""The price table: pinned, versioned, and the only place a token becomes money.

The table is a snapshot of litellm's model price map (``litellm.model_cost``, read from the copy
bundled with litellm, never the network), checked in under ``prices/`` and named by its version.
Upgrading litellm changes nothing until someone runs ``python -m services.billing.prices`` and
checks the new snapshot in; every booked call records the version that priced it. Local models are
priced by configuration (per million tokens or per CPU-second, zero by default). A model in neither
has no price: its usage is refused (dead-lettered ``unknown_model``), never priced by a guess, and a
lease for a call to it is refused before the call. Where litellm knows the model, its own cost is
computed beside ours and a disagreement is flagged ``price_mismatch``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from contracts.events import Price

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

FOLDER = Path(__file__).parent / "prices"
MODES = ("chat", "completion", "embedding", "responses")
FIELDS = {"input_cost_per_token": "in", "output_cost_per_token": "out", "cache_read_input_token_cost": "cached"}
#: litellm and ours may round differently; anything past this relative gap is a real disagreement.
TOLERANCE = Decimal("0.001")


class UnknownModel(LookupError):
    """A model with no price in the table (its usage is refused before it gets here; see ``refusal``)."""


@dataclass(frozen=True)
class Priced:
    cost_usd: Decimal
    price_version: str
    flags: tuple[str, ...]
    litellm_cost_usd: Decimal | None


class PriceTable:
    """Prices by model name (with or without its ``provider/`` prefix), plus local models. Nothing else has a price."""

    def __init__(self, prices: Mapping[str, Price], *, version: str, local: Mapping[str, Price] | None = None, context: Mapping[str, int] | None = None) -> None:
        self.prices, self.local = dict(prices), dict(local or {})
        self.context = dict(context or {})
        suffix = hashlib.sha256(json.dumps({k: v.model_dump(mode="json") for k, v in sorted(self.local.items())}, sort_keys=True).encode()).hexdigest()[:8]
        self.version = f"{version}+local.{suffix}"

    @classmethod
    def load(cls, snapshot: Path | None = None, *, local: Mapping[str, Price] | None = None) -> PriceTable:
        path = snapshot or latest_snapshot()
        raw = json.loads(path.read_text())
        prices = {
            name: Price(usd_per_input_token=Decimal(p.get("in", "0")), usd_per_output_token=Decimal(p.get("out", "0")), usd_per_cached_input_token=Decimal(p.get("cached", p.get("in", "0"))))
            for name, p in raw["models"].items()
        }
        context = {name: int(p["max_input"]) for name, p in raw["models"].items() if p.get("max_input")}
        return cls(prices, version=raw["version"], local=local, context=context)

    def lookup(self, model: str) -> Price | None:
        """The price of ``model``, or None if it has none (local models first: configuration wins)."""
        for name in (model, model.split("/", 1)[-1]):
            if name in self.local:
                return self.local[name]
            if name in self.prices:
                return self.prices[name]
        return None

    def refusal(self, model: str) -> str | None:
        """None if ``model`` has a price; otherwise why a call to it is refused, and how it gets one."""
        if self.lookup(model) is not None:
            return None
        return (
            f"model {model!r} has no price in billing's price table {self.version}: a call to it gets no budget lease and its usage is not booked"
            " (an operator gives a model a price under local_models in billing's config, BILLING_CONFIG, deploy/workforce/budgets.yaml by default,"
            " or checks in a newer snapshot made by `python -m services.billing.prices`)"
        )

    def max_input_tokens(self, model: str) -> int | None:
        return self.context.get(model) or self.context.get(model.split("/", 1)[-1])

    def price(self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, latency_ms: float = 0.0) -> Priced:
        """The cost of one call. Raises ``UnknownModel`` for a model with no price (check ``refusal`` first)."""
        price = self.lookup(model)
        if price is None:
            raise UnknownModel(self.refusal(model))
        flags: list[str] = []
        cost = price.cost(prompt_tokens, completion_tokens, cached_tokens, seconds=latency_ms / 1000 if price.usd_per_second else 0.0)
        theirs = litellm_cost(model, prompt_tokens, completion_tokens, cached_tokens) if not self._is_local(model) else None
        if theirs is not None and abs(theirs - cost) > max(cost, theirs) * TOLERANCE + Decimal("0.0000000001"):
            flags.append("price_mismatch")
        return Priced(cost, self.version, tuple(flags), theirs)

    def _is_local(self, model: str) -> bool:
        return model in self.local or model.split("/", 1)[-1] in self.local


#: Providers whose litellm cost path logs in to the provider (device codes): never asked, no network here.
NO_CROSS_CHECK = ("github_copilot/", "chatgpt/", "gigachat/")
#: Above this many prompt tokens some providers price by tier; there litellm is asked about the exact call.
TIERED_FROM = 100_000


def litellm_cost(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> Decimal | None:
    """litellm's own cost of the call (from the map bundled with the installed litellm), or None.

    litellm takes about a millisecond a call, so its per-token rates are asked once per model and
    applied here; a call large enough for tiered prices is asked about exactly."""
    if model.startswith(NO_CROSS_CHECK):
        return None
    if prompt_tokens > TIERED_FROM:
        return _litellm_exact(model, prompt_tokens, completion_tokens, cached_tokens)
    rates = _litellm_rates(model)
    if rates is None:
        return None
    per_input, per_output, per_cached = rates
    cached = min(cached_tokens, prompt_tokens)
    return ((prompt_tokens - cached) * per_input + cached * per_cached + completion_tokens * per_output).quantize(Decimal("0.0000000001"))


@functools.lru_cache(maxsize=4096)
def _litellm_rates(model: str) -> tuple[Decimal, Decimal, Decimal] | None:
    probe = 10_000  # below every tier threshold
    cold, out, warm = (_litellm_exact(model, *counts, exact=False) for counts in ((probe, 0, 0), (0, probe, 0), (probe, 0, probe)))
    if cold is None or out is None or warm is None:
        return None
    return cold / probe, out / probe, warm / probe


def _litellm_exact(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, *, exact: bool = True) -> Decimal | None:
    import litellm

    try:
        prompt_usd, completion_usd = litellm.cost_per_token(model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cache_read_input_tokens=cached_tokens)
    except Exception:
        return None
    total = Decimal(repr(prompt_usd)) + Decimal(repr(completion_usd))
    return total.quantize(Decimal("0.0000000001")) if exact else total


def latest_snapshot() -> Path:
    snapshots = sorted(FOLDER.glob("litellm-*.json"))
    if not snapshots:
        raise RuntimeError(f"no price snapshot in {FOLDER}: run `python -m services.billing.prices`")
    return snapshots[-1]


def snapshot() -> dict[str, object]:
    """The chat, completion and embedding prices of the installed litellm's bundled map."""
    from importlib.metadata import version

    import litellm

    models: dict[str, dict[str, str | int]] = {}
    for name, entry in sorted(litellm.model_cost.items()):
        if not isinstance(entry, dict) or entry.get("mode") not in MODES or name == "sample_spec":
            continue
        row: dict[str, str | int] = {short: format(Decimal(repr(entry[key])), "f") for key, short in FIELDS.items() if isinstance(entry.get(key), int | float)}
        if "in" not in row and "out" not in row:
            continue
        if isinstance(entry.get("max_input_tokens"), int):
            row["max_input"] = entry["max_input_tokens"]
        models[name] = row
    body = json.dumps(models, sort_keys=True, separators=(",", ":"))
    return {"version": f"litellm-{version('litellm')}.{hashlib.sha256(body.encode()).hexdigest()[:8]}", "source": "litellm.model_cost (bundled map, LITELLM_LOCAL_MODEL_COST_MAP=True)", "models": models}


def main() -> None:
    table = snapshot()
    path = FOLDER / f"{table['version']}.json"
    path.write_text(json.dumps(table, sort_keys=True, indent=0, separators=(",", ":")) + "\n")
    print(f"wrote {path} ({len(table['models'])} models)")  # noqa: T201


if __name__ == "__main__":
    main()
