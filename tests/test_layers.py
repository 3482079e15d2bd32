"""The layers of docs/DESIGN.md, read from the source: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "docker_vpn_helper"
ABOVE_STAGES = ("stages.doctor", "stages.watch")  # not stages: they run stages' planners
FLOOR = ("session", "view", "link", "journal", "forwarding", "guestfiles", "environment")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The package's modules `path` imports (relative to the package: `core.plans.nat`)."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("docker_vpn_helper"):
                target = node.module[len("docker_vpn_helper.") :]
            else:
                continue
            found.add(target)
            found |= {f"{target}.{alias.name}".strip(".") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {
                a.name[len("docker_vpn_helper.") :]
                for a in node.names
                if a.name.startswith("docker_vpn_helper.")
            }
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {target for target in found if target in known}


MODULES = sorted(PACKAGE.rglob("*.py"))


def ids(path: Path) -> str:
    return module_name(path) or "docker_vpn_helper"


def in_layer(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_the_core_imports_only_the_core(path):
    if in_layer(module_name(path), "core"):
        assert {i for i in imports(path) if not in_layer(i, "core") and i != "errors"} == set()


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_adapters_import_only_the_core_and_each_other(path):
    if in_layer(module_name(path), "adapters"):
        allowed = ("core", "adapters", "errors", "settings")
        assert {i for i in imports(path) if not any(in_layer(i, a) for a in allowed)} == set()


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_no_stage_imports_another(path):
    name = module_name(path)
    if not in_layer(name, "stages") or name in ("stages", *ABOVE_STAGES):
        return
    siblings = {i for i in imports(path) if in_layer(i, "stages") and i != "stages"}
    assert siblings == set(), f"{name} imports {siblings}: move what they share below them"


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_the_floor_imports_no_stage_and_no_task(path):
    if module_name(path) in FLOOR:
        assert {i for i in imports(path) if in_layer(i, "stages") or in_layer(i, "tasks")} == set()


def test_the_check_sees_imports():
    # The tests above mean something: doctor does import stages, machine imports the floor.
    assert "stages.machine" in imports(PACKAGE / "stages" / "doctor.py")
    assert "forwarding" in imports(PACKAGE / "stages" / "machine.py")


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_plans_are_read_through_the_sessions_accessors_never_by_stage_name(path):
    """`s.results[name] = plan` is written (stages.step, doctor); outside session.py, whose
    accessors (machine_plan() & co.) read it typed, nothing reads it."""
    if module_name(path) == "session":
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            assert node.value.attr != "results", f"{ids(path)}:{node.lineno} results.{node.attr}"
        if isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "results":
            assert isinstance(node.ctx, ast.Store), f"{ids(path)}:{node.lineno} reads results[...]"
