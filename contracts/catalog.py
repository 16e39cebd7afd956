"""The skill catalog: every skill described in words triage can match against, and the scopes it needs.

Which coworker may run a skill is said by coworker manifests (``contracts.coworkers``), not here.
Shared by triage (which routes by it), governance (which checks manifests against it) and skills.
Errors name the file, the entry and the field.
"""

from __future__ import annotations

import contextlib
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.coworkers import Name, Scope
from contracts.files import read_yaml


class CategorySpec(BaseModel):
    """One of the organisation's ticket categories, and the people who take what no coworker can."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=100)]
    queue: Name
    labels: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(max_length=1000, description="Upstream queue or assignment-group names that mean this category (training maps them onto it); its own name always does."),
    ] = []


class InputSpec(BaseModel):
    """Something a skill needs to know, how to recognise it in a ticket, and what to ask when it is missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    question: Annotated[str, Field(min_length=5, max_length=300)]
    choices: Annotated[list[Annotated[str, Field(min_length=2, max_length=60)]], Field(min_length=1, max_length=200, description="Values recognised in the ticket's words.")]


class SkillSpec(BaseModel):
    """A skill as triage and the authoriser see it: what it is for, and what it needs granted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    category: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(min_length=10, max_length=1000)]
    examples: Annotated[list[Annotated[str, Field(min_length=3, max_length=500)]], Field(min_length=1, max_length=100)]
    requires: Annotated[dict[Name, list[Scope]], Field(min_length=1, description="system -> the scopes the skill's steps use")]
    inputs: Annotated[list[InputSpec], Field(max_length=10)] = []
    expands_to: Annotated[list[str], Field(max_length=10, description="Skills this request is made of; '{country}' picks a country's variant.")] = []

    @property
    def systems(self) -> list[str]:
        return sorted(self.requires)


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: Annotated[list[CategorySpec], Field(min_length=1)]
    skills: Annotated[list[SkillSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        seen: set[str] = set()
        for skill in self.skills:
            if skill.name in seen:
                raise ValueError(f"skill {skill.name!r} is declared twice")
            seen.add(skill.name)
        categories = {c.name for c in self.categories}
        if len(categories) != len(self.categories):
            raise ValueError("a category is declared twice")
        meaning: dict[str, str] = {}
        for category in self.categories:
            for label in category.labels:
                if label in categories and label != category.name:
                    raise ValueError(f"category {category.name!r} lists label {label!r}, which is itself a category; a label means one category")
                if meaning.get(label, category.name) != category.name:
                    raise ValueError(f"label {label!r} is listed under categories {meaning[label]!r} and {category.name!r}; a label means one category")
                meaning[label] = category.name
        names = {s.name for s in self.skills}
        for skill in self.skills:
            missing = [e for e in skill.expands_to if e.replace("{country}", "us") not in names]
            if missing:
                raise ValueError(f"skill {skill.name!r} expands to skills not in the catalog: {', '.join(missing)}")
        for skill in self.skills:
            if skill.category not in categories:
                raise ValueError(f"skill {skill.name!r} is in category {skill.category!r}, which is not declared; categories: {', '.join(sorted(categories))}")
        return self

    def category(self, name: str) -> CategorySpec | None:
        return self._categories.get(name)

    def skills_in(self, category: str) -> list[SkillSpec]:
        return [s for s in self.skills if s.category == category]

    def get(self, name: str) -> SkillSpec | None:
        return self._skills.get(name)

    @cached_property
    def _skills(self) -> dict[str, SkillSpec]:  # triage asks for skills by name several times a ticket
        return {s.name: s for s in self.skills}

    @cached_property
    def _categories(self) -> dict[str, CategorySpec]:
        return {c.name: c for c in self.categories}

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
