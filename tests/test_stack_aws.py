"""AWS-only behaviour of the deployer, which moto never shows, via Stubber."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from helpers import stack
from helpers.stack import StackError, StackNames, deploy_stack
from helpers.target import Target

ACCOUNT = "111122223333"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/demo-action-role"
FUNCTION_ARN = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:demo-action"
MACHINE_ARN = f"arn:aws:states:eu-central-1:{ACCOUNT}:stateMachine:demo-scheduler"
LAMBDA_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
STATES_NOT_ASSUMABLE = (
    "Neither the global service principal states.amazonaws.com, nor the regional "
    "one is authorized to assume the provided role."
)


class StubbedTarget(Target):
    """An AWS target whose clients are real botocore clients behind Stubbers."""

    def __init__(self):
        session = boto3.Session(
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="example-secret",
            region_name="eu-central-1",
        )
        super().__init__("aws", "eu-central-1", session)
        self.clients = {}
        self.stubbers = {}

    def client(self, service, config=None):
        if service not in self.clients:
            client = self.session.client(service, region_name=self.region)
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
            self.clients[service] = client
        return self.clients[service]

    def stub(self, service) -> Stubber:
        self.client(service)
        return self.stubbers[service]


@pytest.fixture
def aws_target() -> StubbedTarget:
    target = StubbedTarget()
    target.stub("sts").add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/me", "UserId": "U"},
    )
    return target


def _deployer(target: StubbedTarget, sleeps: list[float]) -> stack._Deployer:
    return stack._Deployer(target, StackNames("demo"), ACCOUNT, sleeps.append)


def _function_created() -> dict:
    return {"FunctionArn": FUNCTION_ARN, "FunctionName": "demo-action"}


def test_deploy_refuses_aws_without_confirmation(aws_target):
    with pytest.raises(StackError, match=f"confirm_account='{ACCOUNT}'"):
        deploy_stack(aws_target, "demo")

    assert set(aws_target.clients) == {"sts"}


def test_deploy_refuses_aws_with_other_account(aws_target):
    with pytest.raises(StackError, match="without confirmation"):
        deploy_stack(aws_target, "demo", confirm_account="999999999999")

    assert set(aws_target.clients) == {"sts"}


def test_create_function_retries_until_role_assumable(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("lambda")
    stubber.add_client_error("get_function", "ResourceNotFoundException")
    for _ in range(2):
        stubber.add_client_error(
            "create_function", "InvalidParameterValueException", LAMBDA_NOT_ASSUMABLE
        )
    stubber.add_response("create_function", _function_created())

    arn = _deployer(aws_target, sleeps).ensure_function(ROLE_ARN)

    assert arn == FUNCTION_ARN
    assert sleeps == [stack.ROLE_PROPAGATION_DELAY_S] * 2
    stubber.assert_no_pending_responses()


def test_create_state_machine_retries_until_role_assumable(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("stepfunctions")
    stubber.add_response("list_state_machines", {"stateMachines": []})
    stubber.add_client_error(
        "create_state_machine", "AccessDeniedException", STATES_NOT_ASSUMABLE
    )
    stubber.add_response(
        "create_state_machine",
        {"stateMachineArn": MACHINE_ARN, "creationDate": datetime(2026, 1, 1)},
    )

    arn = _deployer(aws_target, sleeps).ensure_state_machine(ROLE_ARN, FUNCTION_ARN)

    assert arn == MACHINE_ARN
    assert sleeps == [stack.ROLE_PROPAGATION_DELAY_S]


def test_create_function_does_not_retry_other_errors(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("lambda")
    stubber.add_client_error("get_function", "ResourceNotFoundException")
    stubber.add_client_error(
        "create_function", "InvalidParameterValueException", "Unsupported runtime"
    )

    with pytest.raises(Exception, match="Unsupported runtime"):
        _deployer(aws_target, sleeps).ensure_function(ROLE_ARN)

    assert sleeps == []


def test_create_function_gives_up_after_bounded_wait(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("lambda")
    stubber.add_client_error("get_function", "ResourceNotFoundException")
    for _ in range(stack.ROLE_PROPAGATION_ATTEMPTS):
        stubber.add_client_error(
            "create_function", "InvalidParameterValueException", LAMBDA_NOT_ASSUMABLE
        )

    with pytest.raises(StackError, match="could still not be assumed"):
        _deployer(aws_target, sleeps).ensure_function(ROLE_ARN)

    assert len(sleeps) == stack.ROLE_PROPAGATION_ATTEMPTS - 1
    assert sum(sleeps) == pytest.approx(58.0)


def test_target_client_retries_throttling():
    """Two ThrottlingException answers are retried; no request leaves the process."""
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="example-secret",
        region_name="us-west-2",
    )
    target = Target("aws", "us-west-2", session)
    client = target.client("stepfunctions")
    attempts = []

    def throttle(request, **kwargs):
        attempts.append(request.url)
        raise_throttling = len(attempts) < 3
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        if not raise_throttling:
            body = b'{"stateMachines":[]}'
        raw = _RawResponse(body)
        return AWSResponse(request.url, 400 if raise_throttling else 200, {}, raw)

    client.meta.events.register("before-send.states.ListStateMachines", throttle)

    result = client.list_state_machines()

    assert result["stateMachines"] == []
    assert len(attempts) == 3
    assert all(
        url.startswith("https://states.us-west-2.amazonaws.com") for url in attempts
    )


class _RawResponse:
    """The minimal raw body that botocore's AWSResponse reads."""

    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **kwargs):
        yield self.body
