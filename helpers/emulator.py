"""The local lab: moto's server and the local API gateways, each in its own process.

The processes listen on 127.0.0.1 only. Their ports, process ids and log files
are recorded in ``state.json`` inside the lab directory (``.lab/`` at the top
of the repository, or ``$TIMESTAMP_LAB_DIR``), so every notebook, kernel and
``make`` target reuses the same lab until ``make down`` stops it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import requests
from botocore.config import Config

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent

# moto accepts any key pair; the local gateway verifies SigV4 signatures made
# with this one, as API Gateway verifies them against IAM on AWS.
ACCESS_KEY_ID = "AKIALOCALLAB00000000"
SECRET_ACCESS_KEY = "local-lab-secret-access-key"
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

HEALTH_CHECKS: dict[str, Callable] = {
    "iam": lambda c: c.list_roles(MaxItems=1),
    "lambda": lambda c: c.list_functions(MaxItems=1),
    "stepfunctions": lambda c: c.list_state_machines(maxResults=1),
    "apigateway": lambda c: c.get_rest_apis(limit=1),
}


# The Popen objects of processes this interpreter started, kept so that they
# are waited for when stopped instead of being collected while still running.
_CHILDREN: dict[int, subprocess.Popen] = {}


class EmulatorError(RuntimeError):
    """The local lab could not be started, reached or configured."""


@dataclass
class ProcessRecord:
    """A background process of the lab and where it listens."""

    pid: int
    port: int
    log: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class LabState:
    """The contents of ``state.json``: the emulator and one gateway per REST API."""

    emulator: ProcessRecord | None = None
    gateways: dict[str, ProcessRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LabState:
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        emulator = raw.get("emulator")
        return cls(
            emulator=ProcessRecord(**emulator) if emulator else None,
            gateways={k: ProcessRecord(**v) for k, v in raw["gateways"].items()},
        )

    def save(self, path: Path) -> None:
        raw = {
            "emulator": vars(self.emulator) if self.emulator else None,
            "gateways": {k: vars(v) for k, v in self.gateways.items()},
        }
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(raw, indent=2))
        partial.replace(path)


def lab_directory() -> Path:
    """Return the directory that contains the lab's state file and logs."""
    configured = os.environ.get("TIMESTAMP_LAB_DIR")
    return Path(configured) if configured else REPO_ROOT / ".lab"


def _process_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:  # poll() reaps it, so an exited child is not a zombie
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_answers(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
    except requests.RequestException:
        return False
    return True


class LocalLab:
    """Start, reuse, check and stop the local lab's processes."""

    def __init__(self, directory: Path | None = None, region: str = DEFAULT_REGION):
        self.directory = Path(directory) if directory else lab_directory()
        self.region = region
        self.directory.mkdir(parents=True, exist_ok=True)

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[LabState]:
        """Hold the lab's lock so that two kernels never start two emulators."""
        with open(self.directory / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = LabState.load(self.state_file)
            yield state
            state.save(self.state_file)

    def state(self) -> LabState:
        return LabState.load(self.state_file)

    @property
    def url(self) -> str:
        emulator = self.state().emulator
        if emulator is None:
            raise EmulatorError("the local lab is not running: start it with `make up`")
        return emulator.url

    def running(self) -> bool:
        """Tell whether the recorded emulator process is alive and serves HTTP."""
        emulator = self.state().emulator
        return bool(
            emulator and _process_alive(emulator.pid) and _port_answers(emulator.port)
        )

    def start(self, timeout: float = 60.0) -> str:
        """Start the emulator unless it is already running; return its URL."""
        started = False
        with self._locked_state() as state:
            emulator = state.emulator
            if (
                emulator
                and _process_alive(emulator.pid)
                and _port_answers(emulator.port)
            ):
                logger.debug("reusing the emulator at %s", emulator.url)
            else:
                state.emulator = self._spawn(
                    "emulator", ["-m", "helpers.labserver"], timeout
                )
                state.gateways.clear()  # a new emulator has no REST APIs
                logger.info("started the emulator at %s", state.emulator.url)
                started = True
            url = state.emulator.url
        if started:
            self.check_configuration()
        return url

    def _spawn(self, name: str, arguments: list[str], timeout: float) -> ProcessRecord:
        """Start ``python ARGUMENTS`` detached and wait for its ready file."""
        ready_file = self.directory / f"{name}.ready"
        ready_file.unlink(missing_ok=True)
        log_path = self.directory / f"{name}.log"
        environment = {**os.environ, "TZ": "UTC", "PYTHONUNBUFFERED": "1"}
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, *arguments, "--ready-file", str(ready_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_ROOT,
                env=environment,
                start_new_session=True,  # outlives the kernel that started it
            )
        _CHILDREN[process.pid] = process
        ready = self._wait_for_ready_file(process, ready_file, log_path, timeout)
        return ProcessRecord(pid=ready["pid"], port=ready["port"], log=str(log_path))

    @staticmethod
    def _wait_for_ready_file(
        process: subprocess.Popen, ready_file: Path, log_path: Path, timeout: float
    ) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready_file.exists():
                return json.loads(ready_file.read_text())
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise EmulatorError(
                    f"{process.args[2]} exited with code {process.returncode} "
                    f"before it was ready; end of {log_path}:\n{tail}"
                )
            time.sleep(0.05)
        process.kill()
        raise EmulatorError(
            f"{process.args[2]} was not ready after {timeout:.0f} s; see {log_path}"
        )

    def check_configuration(self) -> None:
        """Fail unless the emulator runs Lambda without Docker and runs executions.

        Without the execute flag moto returns canned execution histories dated
        2020, and every latency computed from them would be meaningless. moto's
        ``/moto-api/config`` does not report that flag, so this runs a one-state
        probe execution and checks that its history is dated today.
        """
        response = requests.get(f"{self.url}/moto-api/config", timeout=5)
        response.raise_for_status()
        if response.json().get("lambda", {}).get("use_docker", True):
            raise EmulatorError(
                f"the emulator at {self.url} runs Lambda in Docker, which the lab "
                "does not use; run `make down`, then `make up`"
            )
        first_event = self._run_probe_execution()
        age = datetime.now(UTC) - first_event
        if abs(age) > timedelta(hours=1):
            raise EmulatorError(
                f"the emulator at {self.url} does not execute state machines: its "
                f"probe history is dated {first_event:%Y-%m-%d}, so histories would "
                "be canned; run `make down`, then `make up`"
            )

    def _run_probe_execution(self) -> datetime:
        """Run a one-Pass-state execution and return its first event's timestamp."""
        client = self.client("stepfunctions")
        definition = {
            "StartAt": "Probe",
            "States": {"Probe": {"Type": "Pass", "End": True}},
        }
        machine = client.create_state_machine(
            name=f"lab-probe-{uuid.uuid4().hex[:12]}",
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/lab-probe",
        )["stateMachineArn"]
        try:
            execution = client.start_execution(
                stateMachineArn=machine, name="probe", input="{}"
            )["executionArn"]
            events = client.get_execution_history(executionArn=execution)["events"]
            return events[0]["timestamp"]
        finally:
            client.delete_state_machine(stateMachineArn=machine)

    def client(self, service: str):
        """Return a boto3 client for ``service`` on the emulator."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(retries={"mode": "adaptive", "max_attempts": 5}),
        )

    def health(self) -> dict[str, bool]:
        """Call one cheap read per service the stack uses; map service to success."""
        results = {}
        for service, check in HEALTH_CHECKS.items():
            try:
                check(self.client(service))
                results[service] = True
            except Exception as error:  # any failure means unhealthy
                logger.warning("health check of %s failed: %s", service, error)
                results[service] = False
        return results

    def start_gateway(self, rest_api_id: str, stage: str, timeout: float = 60.0) -> str:
        """Serve the REST API on a local port unless served; return the stage URL."""
        with self._locked_state() as state:
            record = state.gateways.get(rest_api_id)
            if not (record and _process_alive(record.pid)):
                arguments = [
                    "-m", "helpers.gateway",
                    "--emulator", state.emulator.url,
                    "--rest-api-id", rest_api_id,
                    "--region", self.region,
                ]  # fmt: skip
                record = self._spawn(f"gateway-{rest_api_id}", arguments, timeout)
                state.gateways[rest_api_id] = record
                logger.info("serving REST API %s at %s", rest_api_id, record.url)
        return f"{record.url}/{stage}"

    def gateway_url(self, rest_api_id: str, stage: str) -> str | None:
        """Return the base URL of a running local gateway, or None."""
        record = self.state().gateways.get(rest_api_id)
        if record and _process_alive(record.pid):
            return f"{record.url}/{stage}"
        return None

    def gateway_healthy(self, rest_api_id: str) -> bool:
        """Tell whether the REST API's local gateway serves HTTP at all."""
        record = self.state().gateways.get(rest_api_id)
        if not (record and _process_alive(record.pid)):
            return False
        try:
            requests.get(record.url, timeout=2)
        except requests.RequestException:
            return False
        return True

    def stop_gateway(self, rest_api_id: str) -> None:
        """Stop the local gateway of one REST API, if one runs."""
        with self._locked_state() as state:
            record = state.gateways.pop(rest_api_id, None)
            if record:
                _terminate(record.pid)

    def stop(self) -> None:
        """Stop every process of the lab and forget them."""
        with self._locked_state() as state:
            for record in state.gateways.values():
                _terminate(record.pid)
            if state.emulator:
                _terminate(state.emulator.pid)
            state.emulator = None
            state.gateways.clear()


def _terminate(pid: int, grace: float = 5.0) -> None:
    """Send SIGTERM, then SIGKILL after ``grace`` seconds if the process lives on."""
    child = _CHILDREN.pop(pid, None)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if child is not None:
            _wait_for_child(child, grace)
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _process_alive(pid):
            time.sleep(0.05)
        if _process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _wait_for_child(child: subprocess.Popen, grace: float) -> None:
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
