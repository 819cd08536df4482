"""Fixtures: a real local lab per test session, in a directory of its own."""

from __future__ import annotations

import os
import uuid

import pytest

from helpers.emulator import LocalLab
from helpers.stack import StackOutputs, deploy_stack, teardown_stack
from helpers.target import Target, make_target


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> LocalLab:
    """Start a lab that no notebook or other test session shares, stop it at the end."""
    directory = tmp_path_factory.mktemp("lab")
    previous = os.environ.get("TIMESTAMP_LAB_DIR")
    os.environ["TIMESTAMP_LAB_DIR"] = str(directory)
    local_lab = LocalLab(directory)
    local_lab.start()
    yield local_lab
    local_lab.stop()
    if previous is None:
        os.environ.pop("TIMESTAMP_LAB_DIR", None)
    else:
        os.environ["TIMESTAMP_LAB_DIR"] = previous


@pytest.fixture(scope="session")
def target(lab: LocalLab) -> Target:
    return make_target("local", lab=lab)


@pytest.fixture(scope="session")
def stack(target: Target) -> StackOutputs:
    """Deploy one stack shared by the tests of a session; tear it down at the end."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    outputs = deploy_stack(target, name)
    yield outputs
    teardown_stack(target, name)


@pytest.fixture
def event_id() -> str:
    """Return a fresh event id, so tests never collide on execution names."""
    return f"evt-{uuid.uuid4().hex}"
