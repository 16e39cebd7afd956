"""The skill catalog: which coworker runs which skill, described in words triage can match against.

A declared format shared by triage (which routes by it) and skills (which refuses what is not in
it), like the events. Errors name the file, the entry and the field.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class SkillSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    coworker: Name
    system: Name
    description: Annotated[str, Field(min_length=10, max_length=1000)]
    examples: Annotated[list[Annotated[str, Field(min_length=3, max_length=500)]], Field(min_length=1, max_length=100)]


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


class CatalogError(ValueError):
    pass


def load_catalog(path: Path) -> Catalog:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such skill catalog (SKILLS_CATALOG)") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
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
