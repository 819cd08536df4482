"""The local lab's processes: start, reuse, health, strictness, time zones and stop."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from helpers.emulator import EmulatorError, LabState, LocalLab, ProcessRecord
from helpers.stack import deploy_stack
from helpers.target import make_target


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    result = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True)
    status = result.stdout.decode().strip()
    return bool(status) and not status.startswith("Z")


def test_lab_start_reuses_running_emulator(lab):
    first = lab.state().emulator

    lab.start()

    assert lab.state().emulator == first


def test_lab_records_port_pid_and_log(lab):
    record = lab.state().emulator

    assert _alive(record.pid)
    assert lab.url == f"http://127.0.0.1:{record.port}"
    assert "GET /moto-api/config" in Path(record.log).read_text()


def test_lab_health_reports_every_service(lab):
    assert lab.health() == {
        "iam": True,
        "lambda": True,
        "stepfunctions": True,
        "apigateway": True,
    }


def test_lab_rejects_emulator_without_execution(tmp_path):
    port = _free_port()
    plain = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        lab = LocalLab(tmp_path)
        LabState(ProcessRecord(plain.pid, port, str(tmp_path / "log"))).save(
            lab.state_file
        )
        _wait_until_answering(lab)
        requests.post(
            f"{lab.url}/moto-api/config",
            json={"lambda": {"use_docker": False}},
            timeout=5,
        ).raise_for_status()

        with pytest.raises(EmulatorError, match="does not execute state machines"):
            lab.check_configuration()
    finally:
        plain.terminate()
        plain.wait()


def _wait_until_answering(lab: LocalLab, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not lab.running():
        if time.monotonic() > deadline:
            raise TimeoutError("the plain moto server did not start")
        time.sleep(0.1)


def test_lab_down_stops_processes(tmp_path):
    lab = LocalLab(tmp_path)
    lab.start()
    pid = lab.state().emulator.pid

    lab.stop()

    assert not _alive(pid)
    assert lab.state().emulator is None
    assert not lab.running()


def _start(target, machine_arn: str, name: str, payload: str):
    return target.client("stepfunctions").start_execution(
        stateMachineArn=machine_arn, name=name, input=payload
    )


def test_emulator_rejects_name_over_80_characters(target, stack):
    with pytest.raises(ClientError, match="InvalidName"):
        _start(target, stack.state_machine_arn, "n" * 81, "{}")


@pytest.mark.parametrize("character", [" ", "/", ":", "\x07", "\u0085"])
def test_emulator_rejects_forbidden_name_character(target, stack, character):
    with pytest.raises(ClientError, match="InvalidName"):
        _start(target, stack.state_machine_arn, f"a{character}b", "{}")


def test_emulator_rejects_input_over_256_kib(target, stack, event_id):
    payload = json.dumps({"dueDate": "2099-01-01T00:00:00Z", "data": "é" * 140_000})

    with pytest.raises(ClientError, match="InvalidExecutionInput"):
        _start(target, stack.state_machine_arn, event_id, payload)

    client = target.client("stepfunctions")
    executions = client.list_executions(stateMachineArn=stack.state_machine_arn)
    assert event_id not in {e["name"] for e in executions["executions"]}


def _wait_exit_lateness(target, machine_arn: str, lead_s: float) -> timedelta:
    due = (datetime.now(UTC) + timedelta(seconds=lead_s)).replace(microsecond=0)
    execution = _start(
        target,
        machine_arn,
        f"tz-{due:%H%M%S}",
        json.dumps({"dueDate": f"{due:%Y-%m-%dT%H:%M:%SZ}"}),
    )["executionArn"]
    client = target.client("stepfunctions")
    deadline = time.monotonic() + lead_s + 30
    while client.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the event never fired"
        time.sleep(0.2)
    events = client.get_execution_history(executionArn=execution)["events"]
    (exited,) = [e for e in events if e["type"] == "WaitStateExited"]
    return exited["timestamp"] - due


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_lab_fires_on_time_whatever_host_zone(tmp_path, monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    lab = LocalLab(tmp_path)
    try:
        target = make_target("local", lab=lab)
        outputs = deploy_stack(target, "zone")

        lateness = _wait_exit_lateness(target, outputs.state_machine_arn, lead_s=3)
    finally:
        lab.stop()
        monkeypatch.undo()
        time.tzset()

    assert abs(lateness) <= timedelta(seconds=1)
