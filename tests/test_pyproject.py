"""pyproject.toml's packaging metadata agrees with the pinned requirements and ships what the code reads."""

import importlib
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from musictagger.about import LICENCE
from musictagger.library.db import MIGRATIONS_DIR

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pins(name: str) -> dict[str, str]:
    """requirements*.txt's own lines (not ``-r`` includes): canonical name → pinned version."""
    found = {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{name}: {line} is not pinned"
            found[canonicalize_name(requirement.name)] = spec.version
    return found


def ranges(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements)}


def test_dependencies_are_the_runtime_requirements_with_ranges_holding_their_pins():
    pinned, declared = pins("requirements.txt"), ranges(PROJECT["project"]["dependencies"])
    assert set(declared) == set(pinned)
    for name, version in pinned.items():
        assert declared[name].specifier.contains(version), f"{name} {version} outside {declared[name]}"
        assert not declared[name].specifier.contains("9999"), f"{name} has no upper bound"


def test_the_dev_extra_is_the_development_requirements():
    pinned, declared = (
        pins("requirements-dev.txt"),
        ranges(PROJECT["project"]["optional-dependencies"]["dev"]),
    )
    assert set(declared) == set(pinned)
    assert all(declared[name].specifier.contains(version) for name, version in pinned.items())


def test_the_console_script_names_a_callable():
    target = PROJECT["project"]["scripts"]["musictagger"]
    module, _, attribute = target.partition(":")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_licence_and_build_backend():
    project = PROJECT["project"]
    assert project["license"] == LICENCE == "GPL-3.0-or-later"
    assert all((ROOT / name).is_file() for name in project["license-files"])
    assert PROJECT["build-system"]["build-backend"] == "setuptools.build_meta"


def test_package_data_covers_every_migration_file_that_is_not_a_module():
    data = PROJECT["tool"]["setuptools"]["package-data"]["musictagger.library.migrations"]
    files = {p.relative_to(MIGRATIONS_DIR).as_posix() for p in MIGRATIONS_DIR.rglob("*") if p.is_file()}
    not_modules = {f for f in files if not f.endswith(".py") and "__pycache__" not in f}
    assert not_modules <= set(data)
    # The modules ship as packages: both folders have an __init__.py for setuptools' find.
    assert {"__init__.py", "versions/__init__.py", "env.py"} <= files
