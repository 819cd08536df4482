"""Give each pytest run, notebooks included, a local lab of its own.

The test run and the kernels that nbval starts inherit TIMESTAMP_LAB_DIR, so
they share one emulator in a temporary directory and never touch the lab of
``make up``. The run stops that lab when it ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_OWNED_LAB_DIR: str | None = None


def pytest_configure(config) -> None:
    global _OWNED_LAB_DIR
    if not os.environ.get("TIMESTAMP_LAB_DIR"):
        _OWNED_LAB_DIR = tempfile.mkdtemp(prefix="timestamp-lab-test-")
        os.environ["TIMESTAMP_LAB_DIR"] = _OWNED_LAB_DIR


def pytest_unconfigure(config) -> None:
    if _OWNED_LAB_DIR is None:
        return
    from helpers.emulator import LocalLab

    LocalLab(_OWNED_LAB_DIR).stop()
    os.environ.pop("TIMESTAMP_LAB_DIR", None)
    shutil.rmtree(_OWNED_LAB_DIR, ignore_errors=True)
