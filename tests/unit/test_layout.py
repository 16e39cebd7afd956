"""The layout is the architecture: what may import what, checked on the source (parsed, not grepped).

The simulated customer systems (``deploy/sandbox/``) are a separate component the skills reach over
HTTP, as they would reach a real Okta or Workday; a module of ``services/`` that imports them would
work only against the simulator (issue 15).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
SIMULATOR = "deploy.sandbox"

def _is_simulator(module: str) -> bool:
    return module == SIMULATOR or module.startswith(SIMULATOR + ".")


def simulator_imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each import of the simulator in ``path``, wherever in the file it is."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_simulator(alias.name):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _is_simulator(node.module):
                yield node.lineno, node.module
            elif SIMULATOR.startswith(node.module + "."):  # from deploy import sandbox
                for alias in node.names:
                    if _is_simulator(f"{node.module}.{alias.name}"):
                        yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id if isinstance(node.func, ast.Name) else ""
            if called in {"import_module", "__import__"} and _is_simulator(node.args[0].value):
                yield node.lineno, node.args[0].value


def _services_modules() -> list[Path]:
    return sorted(p for p in SERVICES.rglob("*.py") if ".venv" not in p.parts)


def test_no_module_of_the_services_imports_the_simulated_systems() -> None:
    found = {str(p.relative_to(ROOT)): list(simulator_imports(p)) for p in _services_modules()}
    found = {path: lines for path, lines in found.items() if lines}
    assert not found, "services must reach the simulated systems over HTTP, not import them: " + "; ".join(
        f"{path}:{line} imports {module}" for path, lines in sorted(found.items()) for line, module in lines
    )


def test_the_check_finds_every_way_of_importing_the_simulator(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import deploy.sandbox.okta\nfrom deploy.sandbox import tokens\nfrom deploy import sandbox\nfrom deploy import stack\n"
        "def f():\n    from deploy.sandbox.hr_org import wid\n    return importlib.import_module('deploy.sandbox.paycalc')\n"
    )
    assert list(simulator_imports(source)) == [
        (1, "deploy.sandbox.okta"), (2, "deploy.sandbox"), (3, "deploy.sandbox"), (6, "deploy.sandbox.hr_org"), (7, "deploy.sandbox.paycalc"),
    ]


def test_no_skill_module_declares_sandbox_cases() -> None:
    """A skill's cases check and set up the simulated systems' own tables: they live in deploy/sandbox/cases/."""
    declaring = []
    for path in _services_modules():
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "CASES" for t in targets):
                declaring.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not declaring, f"sandbox cases belong in deploy/sandbox/cases/<module>.py, not in {', '.join(declaring)}"


def test_every_skill_module_has_its_cases_beside_the_simulators_in_the_same_order() -> None:
    from deploy.sandbox import cases
    from services.skills import library

    def names(modules: tuple) -> list[str]:  # type: ignore[type-arg]
        return [m.__name__.rsplit(".", 1)[1] for m in modules]

    assert names(cases.MODULES) == names(library.MODULES)
    assert cases.CASES == tuple(case for module in cases.MODULES for case in module.CASES)
    assert {case.skill for case in cases.CASES} == set(library.SKILLS), "every skill has sandbox cases, and every case is of a skill run here"
