"""Real executions on the local emulator, of every shape the emulator can produce.

The tests of history.py and latency.py share these helpers. They deploy the
kit's state machine (and a ``lambda:invoke`` variant of it) directly with
boto3, start executions with ``start_execution`` and wait until they close.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from helpers import artifacts
from helpers.emulator import ACCOUNT_ID
from helpers.target import Target

CLOSE_TIMEOUT_S = 30.0


@dataclass
class Machines:
    """ARNs of the action function and of the two state machines that invoke it."""

    function_arn: str
    by_function_arn: str
    by_lambda_invoke: str


def deploy_machines(target: Target) -> Machines:
    """Create a role, the action function and both state machines, named uniquely."""
    suffix = uuid.uuid4().hex[:8]
    trust = artifacts.read_json("iam/lambda-trust.json", {"AccountId": ACCOUNT_ID})
    role_arn = target.client("iam").create_role(
        RoleName=f"history-test-{suffix}", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    function_arn = target.client("lambda").create_function(
        FunctionName=f"history-test-{suffix}",
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": artifacts.lambda_zip()},
    )["FunctionArn"]
    definition = artifacts.state_machine_definition(function_arn)
    invoke = json.loads(definition)
    invoke["States"]["RunAction"]["Resource"] = "arn:aws:states:::lambda:invoke"
    invoke["States"]["RunAction"]["Parameters"] = {
        "FunctionName": function_arn,
        "Payload.$": "$",
    }
    client = target.client("stepfunctions")
    machines = [
        client.create_state_machine(
            name=f"{name}-{suffix}", definition=body, roleArn=role_arn
        )["stateMachineArn"]
        for name, body in (("by-arn", definition), ("by-invoke", json.dumps(invoke)))
    ]
    return Machines(function_arn, *machines)


def due_in(seconds: float) -> str:
    """Return an RFC 3339 due date ``seconds`` from now, to the millisecond."""
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    return due.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def start(target: Target, machine_arn: str, due_date: str) -> str:
    """Start one execution named with a fresh id; return its ARN."""
    payload = {"dueDate": due_date, "data": {"test": True}}
    return target.client("stepfunctions").start_execution(
        stateMachineArn=machine_arn,
        name=f"evt-{uuid.uuid4().hex}",
        input=json.dumps(payload),
    )["executionArn"]


def wait_closed(target: Target, arns: list[str]) -> None:
    """Poll every 0.2 s until no execution of ``arns`` is RUNNING, for at most 30 s."""
    client = target.client("stepfunctions")
    deadline = time.monotonic() + CLOSE_TIMEOUT_S
    open_arns = set(arns)
    while open_arns:
        open_arns = {
            arn
            for arn in open_arns
            if client.describe_execution(executionArn=arn)["status"] == "RUNNING"
        }
        if open_arns and time.monotonic() > deadline:
            raise TimeoutError(f"{len(open_arns)} executions still run after 30 s")
        if open_arns:
            time.sleep(0.2)
