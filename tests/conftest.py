"""Fixtures: the run's real local lab, a target on it and a deployed stack."""

from __future__ import annotations

import uuid

import pytest

from helpers.emulator import LocalLab
from helpers.stack import StackOutputs, deploy_stack, teardown_stack
from helpers.target import Target, make_target


@pytest.fixture(scope="session")
def lab() -> LocalLab:
    """Start the run's own lab; the root conftest.py chose its directory."""
    local_lab = LocalLab()
    local_lab.start()
    return local_lab


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
