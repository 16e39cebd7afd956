"""Coworker manifests: the example workforce is valid, and a bad manifest says file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contracts.catalog import load_catalog
from contracts.coworkers import ManifestError, check_workforce, load_manifest, load_workforce
from deploy.coworkers import example_workforce
from services.governance.settings import DEFAULT_CATALOG

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "workforce" / "coworkers"


def test_the_example_workforce_from_the_brief_is_complete_and_consistent() -> None:
    workforce = load_workforce(EXAMPLES)
    check_workforce(workforce, load_catalog(DEFAULT_CATALOG).requirements)
    assert {"atom", "triage-manager", "access-manager", "onboarding-manager", "jordan", "enterprise-app-agent", "device-agent", "bob", "it-support-workspace-manager", "hardware-support-specialist"} <= set(workforce)
    assert set(workforce["jordan"].tools) >= {"okta", "entra", "jira", "sharepoint"}
    assert workforce["jordan"].sub_agents == ["enterprise-app-agent", "device-agent"]
    assert set(workforce["bob"].tools) == {"workday", "payroll"}
    bob_agents = [workforce[a] for a in workforce["bob"].sub_agents]
    assert any("hr-onboarding-us" in a.skills and "hr-onboarding-in" in a.skills for a in bob_agents)
    assert all(m.manager is not None for m in workforce.values())


def write(tmp_path: Path, change: dict, *, drop: str | None = None) -> Path:
    raw = yaml.safe_load((EXAMPLES / "jordan.yaml").read_text())
    raw.update(change)
    if drop:
        raw.pop(drop)
    path = tmp_path / "jordan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ("change", "drop", "words"),
    [
        ({"autonomy": {"app-access": "autonomous"}}, None, "autonomy names skills the coworker does not hold: app-access"),
        ({"autonomy": {"password-reset": "whenever"}}, None, "autonomy.password-reset: Input should be 'autonomous' or 'supervised'"),
        ({"tools": {"okta": ["users.read", "users.read"]}}, None, "tools.okta lists a scope twice"),
        ({"tools": {"okta": ["Reset Everything"]}}, None, "tools.okta.0: String should match pattern"),
        ({"team": "IT Support"}, None, "team: String should match pattern"),
        ({"goals": [{"description": "x", "metric": "resolution_rate", "target": 70}]}, None, "resolution_rate is a fraction between 0 and 1; got 70.0 (write 0.7 for 70%)"),
        ({"salary": 100}, None, "salary: Extra inputs are not permitted"),
        ({}, "budget", "budget: Field required"),
        ({"sub_agents": ["jordan"]}, None, "a coworker cannot be its own sub-agent"),
    ],
)
def test_a_bad_manifest_names_its_file_the_field_and_what_is_wrong(tmp_path: Path, change: dict, drop: str | None, words: str) -> None:
    path = write(tmp_path, change, drop=drop)
    with pytest.raises(ManifestError) as refused:
        load_manifest(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert words in str(refused.value)


def test_a_workforce_with_a_missing_sub_agent_or_a_delegation_loop_is_refused() -> None:
    workforce = example_workforce()
    broken = {**workforce, "device-agent": workforce["device-agent"].model_copy(update={"sub_agents": ["jordan"]})}
    with pytest.raises(ManifestError, match="delegation from 'jordan' comes back to it"):
        check_workforce(broken, load_catalog(DEFAULT_CATALOG).requirements)
    lonely = {"jordan": workforce["jordan"]}
    with pytest.raises(ManifestError, match="sub_agents: no coworker named 'enterprise-app-agent'"):
        check_workforce(lonely, load_catalog(DEFAULT_CATALOG).requirements)


def test_not_yaml_at_all_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed")
    with pytest.raises(ManifestError, match=f"{path}: not valid YAML"):
        load_manifest(path)
