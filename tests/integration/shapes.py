"""The check every vendor's contract test makes of the simulator: an answer has each key the vendor's
documentation shows, with the same JSON type, so the simulator cannot drift from the documentation."""

from __future__ import annotations

from typing import Any


def assert_shape(documented: Any, actual: Any, where: str = "$") -> None:
    """Every key the documentation shows is in ``actual``, with the same JSON type (null matches anything)."""
    if documented is None:
        return
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in documented.items():
            assert key in actual, f"{where}.{key} is documented but missing"
            assert_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        for n, example in enumerate(documented if actual else ()):  # each documented kind of element is among the actual ones
            assert any(_like(example, item) for item in actual), f"{where}[{n}]: no element is shaped like {example!r}"
    else:
        kinds = (int, float) if isinstance(documented, (int, float)) and not isinstance(documented, bool) else (type(documented),)
        assert isinstance(actual, kinds) and isinstance(actual, bool) == isinstance(documented, bool), f"{where}: {actual!r} is not like {documented!r}"


def _like(documented: Any, actual: Any) -> bool:
    try:
        assert_shape(documented, actual)
    except AssertionError:
        return False
    return True
