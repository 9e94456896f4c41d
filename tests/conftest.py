"""Shared fixtures: paths to the real trajectory files and small run logs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trajscope.demo_data import task_dirs

os.environ.setdefault("TRAJSCOPE_THEME", "trajscope-dark")
# No test reads the settings file in the home of whoever runs them (empty: no settings file).
os.environ["TRAJSCOPE_SETTINGS"] = ""

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(__file__).resolve().parent / "fixtures" / "real"
DEMO_RUN = ROOT / "demo_data" / "runs" / "calc-divide.jsonl"

REAL_FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.fixture
def demo_run() -> Path:
    return DEMO_RUN


DEMO_TASKS = task_dirs()


def docker_or_skip() -> None:
    """Docker tests run against a real engine. In CI they must run: no engine is a failure."""
    from trajscope.engine.sandbox.docker import docker_available
    from trajscope.engine.sandbox.image import image_exists

    ok, why = docker_available()
    if ok and not image_exists():
        ok, why = False, "the base image trajscope/base:1 is missing (trajscope sandbox build-image)"
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but Docker cannot be used: {why}")
    pytest.skip(f"no Docker here: {why}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items) -> None:
    """A test given the Docker sandbox as a fixture's parameter (``sandbox_kind``, ``kind``) needs
    the engine as much as one marked ``docker`` by hand: mark it so that ``-m "not docker"`` leaves it out.
    A test that uses a module-scoped fixture is grouped with the module's other such tests."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "docker" in [v for v in callspec.params.values() if isinstance(v, str)]:
            item.add_marker(pytest.mark.docker)
        # Under pytest-xdist (make test: -n 2 --dist loadgroup) a module-scoped fixture runs once
        # in each worker that gets one of its tests, and some are a whole search or a Docker
        # image: the tests that use one go to a single worker together.
        if any(d.scope == "module" for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture(params=["local", "docker"])
def sandbox_kind(request) -> str:
    if request.param == "docker":
        docker_or_skip()
    return request.param
