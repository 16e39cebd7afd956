"""The sandbox cases: for each skill module of ``services/skills/``, the requests its skills get in
the sandboxed org and what a person would check after (``<module>.CASES``, with the checks and
set-ups that read and change the simulated systems). They live with the simulator, not the skills:
no module of ``services/`` imports them. ``CASES`` is every case, in the order of
``services.skills.library.MODULES``; ``Workbench`` plays one (``workbench.py``)."""

from __future__ import annotations

from deploy.sandbox.cases import access, badges, device_care, device_diagnostics, hr_leave, hr_offboarding, hr_onboarding
from deploy.sandbox.cases import incidents, knowledge, mfa_recovery, offboarding, onboarding_it, password_reset, purchases
from deploy.sandbox.cases.workbench import Case, Check, Expect, Played, Workbench, coworker_stated

#: The same order as ``services.skills.library.MODULES`` (a skill module without cases has none here).
MODULES = (password_reset, hr_leave, hr_onboarding, hr_offboarding, device_diagnostics, device_care, incidents, purchases, mfa_recovery, access, badges, onboarding_it, offboarding, knowledge)

CASES: tuple[Case, ...] = tuple(case for module in MODULES for case in module.CASES)

__all__ = ["CASES", "MODULES", "Case", "Check", "Expect", "Played", "Workbench", "coworker_stated"]
