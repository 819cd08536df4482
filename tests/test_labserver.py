"""The emulator process's tuning: one reused boto3 client for moto's Lambda tasks."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
    lambda_eval_utils,
)

from helpers import labserver
from helpers.executions import follow_execution


class _CountingFactory:
    """Stand-in for moto's ``boto_client_for`` that counts the clients it builds."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, region, service, state_credentials=None):
        self.calls.append((region, service))
        return object()


def test_cache_clients_reuses_client_per_region_and_service():
    factory = _CountingFactory()
    boto_client_for = labserver.cache_clients(factory)

    first = boto_client_for("us-east-1", "lambda")
    second = boto_client_for("us-east-1", "lambda", state_credentials=object())

    assert first is second
    assert factory.calls == [("us-east-1", "lambda")]


def test_cache_clients_separates_regions_and_services():
    factory = _CountingFactory()
    boto_client_for = labserver.cache_clients(factory)

    east = boto_client_for("us-east-1", "lambda")
    west = boto_client_for("us-west-2", "lambda")
    sqs = boto_client_for("us-east-1", "sqs")

    assert len({id(east), id(west), id(sqs)}) == 3
    assert len(factory.calls) == 3


def test_cache_clients_builds_one_client_under_concurrency():
    factory = _CountingFactory()
    boto_client_for = labserver.cache_clients(factory)
    barrier = threading.Barrier(16)
    clients = []

    def call() -> None:
        barrier.wait()
        clients.append(boto_client_for("us-east-1", "lambda"))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(factory.calls) == 1
    assert len({id(client) for client in clients}) == 1


def test_lambda_client_reuse_enabled_by_default():
    assert labserver.lambda_client_reuse_enabled({})
    assert labserver.lambda_client_reuse_enabled(
        {labserver.REUSE_LAMBDA_CLIENTS_ENV: "1"}
    )


def test_lambda_client_reuse_disabled_by_zero():
    assert not labserver.lambda_client_reuse_enabled(
        {labserver.REUSE_LAMBDA_CLIENTS_ENV: "0"}
    )


def test_reuse_lambda_clients_patches_moto_lambda_task(monkeypatch):
    # Restore moto's function after the test, whatever the patch does to it.
    monkeypatch.setattr(
        lambda_eval_utils, "boto_client_for", lambda_eval_utils.boto_client_for
    )
    monkeypatch.setenv("MOTO_PORT", "5999")

    labserver._reuse_lambda_clients()
    first = lambda_eval_utils.boto_client_for("us-east-1", "lambda")
    second = lambda_eval_utils.boto_client_for("us-east-1", "lambda")

    assert first is second
    assert first.meta.service_model.service_name == "lambda"
    assert first.meta.endpoint_url == "http://localhost:5999"


def test_lab_runs_lambda_task_of_consecutive_executions(target, stack, event_id):
    # Both executions invoke the action function through the lab's one client.
    client = target.client("stepfunctions")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    body = json.dumps({"dueDate": due.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": {}})
    arns = [
        client.start_execution(
            stateMachineArn=stack.state_machine_arn, name=f"{event_id}-{n}", input=body
        )["executionArn"]
        for n in range(2)
    ]

    statuses = [follow_execution(target, arn, timeout_s=30)[-1].status for arn in arns]

    assert statuses == ["SUCCEEDED", "SUCCEEDED"]
