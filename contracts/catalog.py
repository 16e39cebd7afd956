"""The skill catalog: every skill described in words triage can match against, and the scopes it needs.

Which coworker may run a skill is said by coworker manifests (``contracts.coworkers``), not here.
Shared by triage (which routes by it), governance (which checks manifests against it) and skills.
Errors name the file, the entry and the field.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.coworkers import Name, Scope
from contracts.files import read_yaml


class SkillSpec(BaseModel):
    """A skill as triage and the authoriser see it: what it is for, and what it needs granted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    description: Annotated[str, Field(min_length=10, max_length=1000)]
    examples: Annotated[list[Annotated[str, Field(min_length=3, max_length=500)]], Field(min_length=1, max_length=100)]
    requires: Annotated[dict[Name, list[Scope]], Field(min_length=1, description="system -> the scopes the skill's steps use")]

    @property
    def systems(self) -> list[str]:
        return sorted(self.requires)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    skills: Annotated[list[SkillSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        seen: set[str] = set()
        for skill in self.skills:
            if skill.name in seen:
                raise ValueError(f"skill {skill.name!r} is declared twice")
            seen.add(skill.name)
        return self

    def get(self, name: str) -> SkillSpec | None:
        return next((s for s in self.skills if s.name == name), None)

    @property
    def requirements(self) -> dict[str, dict[str, list[str]]]:
        return {s.name: s.requires for s in self.skills}


class CatalogError(ValueError):
    pass


def load_catalog(path: Path) -> Catalog:
    raw = read_yaml(path, CatalogError, missing="no such skill catalog (SKILLS_CATALOG)")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = err["loc"]
            where = ".".join(str(p) for p in loc)
            if len(loc) >= 2 and loc[0] == "skills" and isinstance(loc[1], int) and isinstance(raw, dict):
                with contextlib.suppress(KeyError, IndexError, AttributeError, TypeError):
                    where = f"skill {raw['skills'][loc[1]].get('name', loc[1])!r}: " + ".".join(str(p) for p in loc[2:])
            problems.append(f"{where}: {err['msg']}")
        raise CatalogError(f"{path}: " + "; ".join(problems)) from None
