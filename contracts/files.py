"""Reading the declared files (skill catalog, coworker manifests) with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import yaml


def read_yaml(path: Path, error: type[ValueError], *, missing: str = "no such file") -> object:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
