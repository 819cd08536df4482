"""A collection killed half-way with SIGKILL resumes without fetching twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from helpers.history import HISTORIES_FILE, collect_histories

# The child collects at 4 histories per second, so it is still busy when it
# is killed after the first few lines reach the file.
COLLECTOR = """
import json, sys
from pathlib import Path
from helpers.emulator import LocalLab
from helpers.history import collect_histories
lab = LocalLab()
arns = json.loads(sys.argv[1])
collect_histories(lab.client("stepfunctions"), arns, Path(sys.argv[2]), rate=4.0,
                  workers=1, progress=False)
"""


def _closed_executions(target, stack, count: int) -> list[str]:
    client = target.client("stepfunctions")
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    arns = [
        client.start_execution(
            stateMachineArn=stack.state_machine_arn,
            name=f"kill-{due:%H%M%S}-{number}",
            input=json.dumps({"dueDate": f"{due:%Y-%m-%dT%H:%M:%SZ}"}),
        )["executionArn"]
        for number in range(count)
    ]
    while any(
        client.describe_execution(executionArn=arn)["status"] == "RUNNING"
        for arn in arns
    ):
        time.sleep(0.2)
    return arns


def _lines(path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _kill_after_lines(process: subprocess.Popen, path, lines: int) -> None:
    deadline = time.monotonic() + 60
    while _lines(path) < lines:
        assert process.poll() is None, "the collector ended before it was killed"
        assert time.monotonic() < deadline, "the collector wrote nothing"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _count_requests(client, calls: list[str]) -> None:
    def record(params, **kwargs):
        calls.append(params["executionArn"])

    client.meta.events.register(
        "provide-client-params.states.GetExecutionHistory", record
    )


def test_collection_killed_half_way_resumes(target, stack, tmp_path):
    arns = _closed_executions(target, stack, count=12)
    path = tmp_path / HISTORIES_FILE
    child = subprocess.Popen(
        [sys.executable, "-c", COLLECTOR, json.dumps(arns), str(path)],
        env=os.environ.copy(),
    )
    _kill_after_lines(child, path, lines=4)
    kept = _lines(path)

    client = target.client("stepfunctions")
    calls: list[str] = []
    _count_requests(client, calls)
    result = collect_histories(client, arns, path, progress=False)

    assert 4 <= kept < len(arns)
    assert result.reused == kept
    assert result.fetched == len(arns) - kept
    assert len(calls) == len(arns) - kept
    assert _lines(path) == len(arns)
