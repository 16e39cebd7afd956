"""Every skill this deployment runs, by name. A skill in the catalog but not here is routed, then
escalated with the reason; a skill here must be in the catalog (checked at start). To add a skill: a
module with ``SKILLS``, listed in ``MODULES``, and its sandbox cases in
``deploy/sandbox/cases/<module>.py`` (listed in ``deploy.sandbox.cases.MODULES``)."""

from __future__ import annotations

from collections.abc import Mapping

from contracts.catalog import Catalog
from services.skills import hr_leave, hr_offboarding, hr_onboarding, password_reset
from services.skills import device_care, device_diagnostics, incidents, purchases
from services.skills import access, badges, knowledge, mfa_recovery, offboarding, onboarding_it
from services.skills.skill import Skill

MODULES = (password_reset, hr_leave, hr_onboarding, hr_offboarding, device_diagnostics, device_care, incidents, purchases, mfa_recovery, access, badges, onboarding_it, offboarding, knowledge)

SKILLS: dict[str, Skill] = {skill.name: skill for module in MODULES for skill in module.SKILLS}


def check(skills: Mapping[str, Skill], catalog: Catalog) -> None:
    """Every skill run here is in the catalog, and every scope its steps use is one the catalog says it
    needs (so what managers grant from the catalog is exactly what the steps use)."""
    problems = []
    for skill in skills.values():
        spec = catalog.get(skill.name)
        if spec is None:
            problems.append(f"{skill.name} is not in the catalog")
            continue
        for step in skill.steps:
            if step.operation not in spec.requires.get(step.system, []):
                problems.append(f"{skill.name} step {step.name} uses {step.system}:{step.operation}, which the catalog does not list under requires")
    if problems:
        raise RuntimeError("the skills and the catalog disagree: " + "; ".join(problems))
