"""Billing prices every call itself, from a pinned, versioned table seeded from litellm's price map."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contracts.events import Price
from services.billing.config import BillingConfig, ConfigError, load_config
from services.billing.prices import PriceTable, latest_snapshot, litellm_cost


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load(local={"all-MiniLM-L6-v2": Price(usd_per_input_token=Decimal("0.00000005"))}, default=Price(usd_per_input_token=Decimal("0.000015"), usd_per_output_token=Decimal("0.00006")))


def test_the_price_table_is_a_checked_in_snapshot_named_by_its_version() -> None:
    raw = json.loads(latest_snapshot().read_text())
    assert latest_snapshot().name == f"{raw['version']}.json"
    assert raw["version"].startswith("litellm-")
    assert len(raw["models"]) > 1000 and "gpt-4o-mini" in raw["models"]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "openai/gpt-4o-mini", "azure/gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5", "gemini/gemini-2.5-flash", "mistral/mistral-small-latest"])
def test_a_known_model_costs_what_litellm_says_it_costs(table: PriceTable, model: str) -> None:
    priced = table.price(model, prompt_tokens=12_345, completion_tokens=678, cached_tokens=1_000)
    assert priced.litellm_cost_usd is not None, f"litellm does not know {model}"
    assert priced.cost_usd == pytest.approx(priced.litellm_cost_usd, rel=Decimal("0.001"))
    assert priced.flags == () and priced.cost_usd > 0


def test_cached_prompt_tokens_are_priced_at_the_cache_rate(table: PriceTable) -> None:
    cold = table.price("gpt-4o-mini", 1000, 100).cost_usd
    warm = table.price("gpt-4o-mini", 1000, 100, cached_tokens=1000).cost_usd
    # gpt-4o-mini: $0.15/M input, $0.075/M cached, $0.60/M output
    assert (cold, warm) == (Decimal("0.000210"), Decimal("0.000135"))


def test_every_price_names_the_table_version_that_priced_it(table: PriceTable) -> None:
    snapshot = json.loads(latest_snapshot().read_text())["version"]
    assert table.price("gpt-4o-mini", 1, 1).price_version == table.version
    assert table.version.startswith(snapshot + "+local.")
    other = PriceTable.load(local={"all-MiniLM-L6-v2": Price(usd_per_input_token=Decimal("0.0000001"))})
    assert other.version != table.version, "a different local price is a different version"


def test_a_local_model_is_priced_by_configuration_not_by_litellm(table: PriceTable) -> None:
    priced = table.price("all-MiniLM-L6-v2", 2_000_000, 0)
    assert (priced.cost_usd, priced.flags, priced.litellm_cost_usd) == (Decimal("0.1"), (), None)
    per_second = PriceTable.load(local={"llama-local": Price(usd_per_second=Decimal("0.002"))})
    assert per_second.price("llama-local", 500, 50, latency_ms=1500).cost_usd == Decimal("0.003")


def test_an_unknown_model_is_priced_by_the_default_and_flagged(table: PriceTable) -> None:
    priced = table.price("acme/secret-model-9", 1000, 1000)
    assert priced.flags == ("unknown_model",)
    assert priced.cost_usd == Decimal("0.075")  # 1000 x $15/M + 1000 x $60/M: priced high, never free


def test_a_price_that_disagrees_with_litellm_is_flagged() -> None:
    stale = PriceTable({"gpt-4o-mini": Price(usd_per_input_token=Decimal("0.000001"), usd_per_output_token=Decimal("0.000002"))}, version="test")
    priced = stale.price("gpt-4o-mini", 1000, 100)
    assert "price_mismatch" in priced.flags
    assert priced.litellm_cost_usd == litellm_cost("gpt-4o-mini", 1000, 100)


def test_the_shipped_configuration_loads_and_errors_name_the_field(tmp_path) -> None:  # noqa: ANN001
    from services.billing.settings import BillingSettings

    config = load_config(BillingSettings().billing_config)
    assert config.teams["it-support"].budget.limit_usd == Decimal(600)
    bad = tmp_path / "budgets.yaml"
    bad.write_text("teams:\n  it-support:\n    budget: {limit_usd: -5, period: fortnight}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(bad)
    assert "teams.it-support.budget.limit_usd" in str(refused.value) and "period" in str(refused.value)
    bad.write_text("teams:\n  hr:\n    budget: {limit_usd: 5, resets_at: '00:00', timezone: Asia/Kolkata}\n")
    with pytest.raises(ConfigError, match="whole UTC hour"):
        load_config(bad)
    assert BillingConfig().alerts_pct == [50, 80, 95, 100]
