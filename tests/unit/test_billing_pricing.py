"""Billing prices every call itself, from a pinned, versioned table seeded from litellm's price map."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contracts.envelope import Actor
from contracts.events import LlmUsage, Price, TokenUsage
from services.billing.config import BillingConfig, ConfigError, load_config
from services.billing.ledger import check
from services.billing.prices import PriceTable, UnknownModel, latest_snapshot, litellm_cost


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load(local={"all-MiniLM-L6-v2": Price(usd_per_input_token=Decimal("0.00000005"))})


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


def test_an_unknown_model_has_no_price_and_is_refused_naming_the_model_and_how_to_add_it(table: PriceTable) -> None:
    assert table.lookup("acme/secret-model-9") is None
    why = table.refusal("acme/secret-model-9")
    assert why is not None and why.startswith(f"model 'acme/secret-model-9' has no price in billing's price table {table.version}")
    assert "local_models" in why and "python -m services.billing.prices" in why
    with pytest.raises(UnknownModel, match="acme/secret-model-9"):
        table.price("acme/secret-model-9", 1000, 1000)  # never priced by a guess
    assert table.refusal("openai/gpt-4o-mini") is None and table.refusal("all-MiniLM-L6-v2") is None


def _usage(model: str, prompt: int, completion: int = 0, *, cached: int = 0, latency_ms: float = 0.0) -> LlmUsage:
    data = TokenUsage(purpose="triage.classify", model=model, provider="test", prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached, latency_ms=latency_ms, cost_usd=Decimal(0))
    return LlmUsage.create(data, source="/services/triage", team="it-support", actor=Actor.system("triage"), correlation_id="T-1")


def test_usage_claiming_ten_million_tokens_of_an_unknown_model_is_refused_not_billed(table: PriceTable) -> None:
    code, why = check(_usage("acme/secret-model-9", 10_000_000, 10_000_000), table)
    assert code == "unknown_model" and "'acme/secret-model-9' has no price" in why


@pytest.mark.parametrize(
    ("usage", "why"),
    [
        (_usage("gpt-4o-mini", 10, cached=11), "cached_tokens 11 is more than prompt_tokens 10; cached tokens are part of the prompt"),
        (_usage("gpt-4o-mini", 300_000), "prompt_tokens 300,000 is absurd for gpt-4o-mini, whose context window is 128,000 tokens"),
        (_usage("gpt-4o-mini", 1_000, 300_000), "completion_tokens 300,000 is absurd for gpt-4o-mini, whose context window is 128,000 tokens"),
        (_usage("all-MiniLM-L6-v2", 3_000_000), "prompt_tokens 3,000,000 is absurd for all-MiniLM-L6-v2, whose context window is not in the price table (at most 2,097,152 tokens a call)"),
        (_usage("llama-local", 500, 50, latency_ms=3_600_000), "latency_ms 3,600,000 is absurd for llama-local, billed by the second: no call lasts more than 600 s"),
    ],
)
def test_counts_no_real_call_has_are_refused_as_not_fitting_the_contract(usage: LlmUsage, why: str) -> None:
    table = PriceTable.load(local={"all-MiniLM-L6-v2": Price(), "llama-local": Price(usd_per_second=Decimal("0.002"))})
    assert check(usage, table) == ("schema", why)


@pytest.mark.parametrize("usage", [_usage("gpt-4o-mini", 128_000, 16_384, cached=1_000), _usage("all-MiniLM-L6-v2", 2_097_152), _usage("gemini/gemini-2.5-flash", 1_048_576, 65_535)])
def test_a_large_real_call_is_billed(table: PriceTable, usage: LlmUsage) -> None:
    assert check(usage, table) is None


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


def test_a_service_bills_only_the_models_it_is_configured_to_call() -> None:
    from contracts.envelope import Actor
    from contracts.events import LlmUsage, TokenUsage
    from services.billing.config import BillingConfig
    from services.billing.ledger import check
    from services.billing.prices import PriceTable
    from tests.conftest import ticket

    prices = PriceTable.load()
    config = BillingConfig.model_validate({"callers": {"triage": ["gpt-4o-mini"], "memory": ["text-embedding-3-small"]}})

    def usage(service: str, model: str) -> LlmUsage:
        data = TokenUsage(purpose="t", model=model, provider="openai", prompt_tokens=100, cost_usd=Decimal(0))
        return ticket("T-1").caused(LlmUsage, data, source=f"/services/{service}", actor=Actor.system(service))

    assert check(usage("triage", "gpt-4o-mini"), prices, config.caller_refusal) is None
    code, why = check(usage("memory", "gpt-4o-mini"), prices, config.caller_refusal)  # priced, but not memory's
    assert code == "unknown_model" and "memory is not configured to call 'gpt-4o-mini'" in why
    assert check(usage("memory", "gpt-4o-mini"), prices) is None, "no callers configured: any priced model"
    assert BillingConfig().caller_refusal("/services/memory", "gpt-4o-mini") is None
    strict = BillingConfig.model_validate({"callers": {"triage": ["gpt-4o-mini"]}})
    assert "names no models for 'memory'" in strict.caller_refusal("/services/memory", "text-embedding-3-small")
