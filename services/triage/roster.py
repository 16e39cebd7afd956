"""Who takes a skill's work: the active coworkers, as the coworker table says. Pure; no I/O.

Work enters the organisation at the top, as it would for people: a sub-agent gets its work from the
coworker it reports to (skills hands it down), so triage sends a ticket to the top-level coworker
that holds the skill or has a sub-agent below it that does. Among several, the ticket's own team
first, then the fewest hand-offs, then name order (stable and explainable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.coworkers import CoworkerManifest, LifecycleState, path_to_holder
from contracts.events import CoworkerState


@dataclass(frozen=True)
class Assignee:
    coworker: str
    version: int
    path: tuple[str, ...]  # from the assignee to the coworker that holds the skill

    @property
    def holds_it(self) -> bool:
        return len(self.path) == 1


def active(table: Mapping[str, CoworkerState]) -> dict[str, CoworkerManifest]:
    return {name: s.active for name, s in table.items() if s.state is LifecycleState.active and s.active is not None}


def assignee(skill: str, team: str, table: Mapping[str, CoworkerState]) -> Assignee | None:
    working = active(table)
    reports = {sub for manifest in working.values() for sub in manifest.sub_agents}
    options = []
    for name, manifest in working.items():
        if name in reports:
            continue
        path = path_to_holder(name, skill, working)
        if path is not None:
            options.append((manifest.team != team, len(path), name, path))
    if not options:
        return None
    _, _, name, path = min(options)
    return Assignee(coworker=name, version=table[name].active_version or 1, path=path)
