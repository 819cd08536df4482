"""A private local lab for the benchmarks, in a temporary directory of its own.

Each benchmark lab sets ``TIMESTAMP_LAB_DIR`` for the time it runs, so it never
reuses or stops the lab of ``make up`` or of a concurrent test run, and it
stops its processes and deletes its directory when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers.emulator import LocalLab
from helpers.labserver import REUSE_LAMBDA_CLIENTS_ENV
from helpers.stack import StackOutputs, deploy_stack
from helpers.target import Target, make_target

logger = logging.getLogger(__name__)


@dataclass
class BenchLab:
    """A running private lab with one deployed stack."""

    lab: LocalLab
    target: Target
    stack: StackOutputs

    @property
    def emulator_pid(self) -> int:
        return self.lab.state().emulator.pid


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """Set (or with None, unset) an environment variable for the block."""
    previous = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@contextlib.contextmanager
def _lab_directory() -> Iterator[Path]:
    directory = tempfile.mkdtemp(prefix="timestamp-lab-bench-")
    try:
        with _environment("TIMESTAMP_LAB_DIR", directory):
            yield Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def bench_lab(reuse_lambda_clients: bool = True) -> Iterator[BenchLab]:
    """Start a fresh lab, deploy a stack on it, and stop the lab at the end.

    With ``reuse_lambda_clients=False`` the emulator runs moto's own Lambda
    task code, which builds a client per task, to measure what the reuse
    saves. Stopping the lab discards the stack and its executions with the
    emulator, so no teardown runs.
    """
    reuse = None if reuse_lambda_clients else "0"
    with (
        _environment(REUSE_LAMBDA_CLIENTS_ENV, reuse),
        _lab_directory() as directory,
    ):
        lab = LocalLab(directory)
        try:
            lab.start()
            target = make_target("local", lab=lab)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            stack = deploy_stack(target, name)
            logger.info("benchmark lab in %s with stack %s", directory, name)
            yield BenchLab(lab, target, stack)
        finally:
            lab.stop()
