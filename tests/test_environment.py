"""environment.yml and pyproject.toml name the same dependencies and bounds."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _bounds(requirements: list[str]) -> dict[str, str]:
    parsed = [Requirement(text) for text in requirements]
    return {canonicalize_name(r.name): str(r.specifier) for r in parsed}


def _pyproject_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _bounds(project["dependencies"] + project["optional-dependencies"]["dev"])


def _environment_bounds() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [item for item in environment["dependencies"] if isinstance(item, str)]
    (pip_section,) = [item["pip"] for item in environment["dependencies"]
                      if isinstance(item, dict)]  # fmt: skip
    pip = [line for line in pip_section if not line.startswith("-e")]
    bounds = _bounds(conda + pip)
    bounds.pop("python")
    bounds.pop("pip")
    return bounds


def test_environment_matches_pyproject():
    assert _environment_bounds() == _pyproject_bounds()


def test_moto_bound_excludes_crashing_releases():
    assert _pyproject_bounds()["moto"] == ">=5.2.5"


def test_environment_python_matches_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())

    assert f"python{project['requires-python']}" in environment["dependencies"]
