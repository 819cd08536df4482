"""AWS-only behaviour of the deployer, which moto never shows, via Stubber."""

from __future__ import annotations

from datetime import datetime

import boto3
import pytest
import requests
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


def _function_state(state: str = "Active", update: str = "Successful") -> dict:
    """GetFunction's response as the Lambda waiters read it."""
    configuration = {
        "FunctionArn": FUNCTION_ARN,
        "FunctionName": "demo-action",
        "Role": ROLE_ARN,
        "Runtime": stack.LAMBDA_RUNTIME,
        "CodeSha256": "old-code",
        "State": state,
        "LastUpdateStatus": update,
    }
    return {"Configuration": configuration}


@pytest.fixture
def no_waiter_delay(monkeypatch):
    """Make botocore's waiters poll without sleeping between attempts."""
    import botocore.waiter

    monkeypatch.setattr(botocore.waiter.time, "sleep", lambda seconds: None)


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
    stubber.add_response("get_function", _function_state("Active"))

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


def _aws_target(region: str) -> Target:
    """An AWS target with made-up keys, for behaviour that sends no request."""
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="example-secret",
        region_name=region,
    )
    return Target("aws", region, session)


def test_target_client_retries_throttling():
    """Two ThrottlingException answers are retried; no request leaves the process."""
    target = _aws_target("us-west-2")
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


def test_create_function_waits_until_active(aws_target, no_waiter_delay):
    stubber = aws_target.stub("lambda")
    stubber.add_client_error("get_function", "ResourceNotFoundException")
    stubber.add_response("create_function", _function_created())
    stubber.add_response("get_function", _function_state("Pending"))
    stubber.add_response("get_function", _function_state("Pending"))
    stubber.add_response("get_function", _function_state("Active"))

    _deployer(aws_target, []).ensure_function(ROLE_ARN)

    stubber.assert_no_pending_responses()


def test_update_function_waits_between_updates(aws_target, no_waiter_delay):
    stubber = aws_target.stub("lambda")
    current = _function_state()
    current["Configuration"]["Runtime"] = "python3.9"
    stubber.add_response("get_function", current)
    stubber.add_response("update_function_code", {})
    stubber.add_response("get_function", _function_state(update="InProgress"))
    stubber.add_response("get_function", _function_state(update="Successful"))
    stubber.add_response("update_function_configuration", {})
    stubber.add_response("get_function", _function_state(update="Successful"))

    _deployer(aws_target, []).ensure_function(ROLE_ARN)

    stubber.assert_no_pending_responses()


def test_deploy_reports_state_machine_still_deleting(aws_target):
    stubber = aws_target.stub("stepfunctions")
    stubber.add_response("list_state_machines", {"stateMachines": []})
    stubber.add_client_error(
        "create_state_machine", "StateMachineDeleting", "State machine is deleting"
    )

    with pytest.raises(StackError, match="still being deleted"):
        _deployer(aws_target, []).ensure_state_machine(ROLE_ARN, FUNCTION_ARN)


def test_teardown_waits_until_state_machine_gone(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("stepfunctions")
    machine = {
        "stateMachineArn": MACHINE_ARN,
        "name": "demo-scheduler",
        "type": "STANDARD",
        "creationDate": datetime(2026, 1, 1),
    }
    stubber.add_response("list_state_machines", {"stateMachines": [machine]})
    stubber.add_response("list_executions", {"executions": []})
    stubber.add_response("delete_state_machine", {})
    deleting = {
        "stateMachineArn": MACHINE_ARN,
        "name": "demo-scheduler",
        "status": "DELETING",
        "definition": "{}",
        "roleArn": ROLE_ARN,
        "type": "STANDARD",
        "creationDate": datetime(2026, 1, 1),
    }
    stubber.add_response("describe_state_machine", deleting)
    stubber.add_response("describe_state_machine", deleting)
    stubber.add_client_error("describe_state_machine", "StateMachineDoesNotExist")
    deleted: list[str] = []

    stack._delete_state_machine(aws_target, StackNames("demo"), deleted, sleeps.append)

    assert deleted == ["state machine demo-scheduler"]
    assert sleeps == [stack.STATE_MACHINE_GONE_DELAY_S] * 2
    stubber.assert_no_pending_responses()


def test_teardown_retries_throttled_delete_rest_api(aws_target):
    sleeps: list[float] = []
    stubber = aws_target.stub("apigateway")
    stubber.add_response(
        "get_rest_apis", {"items": [{"id": "a1b2c3", "name": "demo-api"}]}
    )
    stubber.add_client_error("delete_rest_api", "TooManyRequestsException")
    stubber.add_response("delete_rest_api", {})
    deleted: list[str] = []

    stack._delete_rest_api(aws_target, StackNames("demo"), deleted, sleeps.append)

    assert deleted == ["REST API demo-api (a1b2c3)"]
    assert sleeps == [stack.DELETE_REST_API_DELAY_S]


def test_aws_target_partition_and_endpoint_in_china():
    target = _aws_target("cn-north-1")

    assert target.partition == "aws-cn"
    assert stack.endpoint_url(target, "a1b2c3", "v1") == (
        "https://a1b2c3.execute-api.cn-north-1.amazonaws.com.cn/v1"
    )


def test_api_ready_wait_retries_until_404():
    statuses = iter([500, 500, 403, 404])
    session = requests.Session()
    session.mount("https://", _StatusAdapter(statuses))
    sleeps: list[float] = []

    attempts = stack.wait_until_api_ready(
        "https://a1b2c3.execute-api.eu-central-1.amazonaws.com/v1/events",
        session,
        sleeps.append,
    )

    assert attempts == 4
    assert sleeps == [stack.API_READY_DELAY_S] * 3


def test_api_ready_wait_is_bounded():
    session = requests.Session()
    session.mount("https://", _StatusAdapter(iter([500] * stack.API_READY_ATTEMPTS)))
    sleeps: list[float] = []

    with pytest.raises(StackError, match="still returned HTTP 500"):
        stack.wait_until_api_ready(
            "https://a1b2c3.execute-api.eu-central-1.amazonaws.com/v1/events",
            session,
            sleeps.append,
        )

    assert sum(sleeps) == pytest.approx(58.0)


class _StatusAdapter(requests.adapters.HTTPAdapter):
    """A transport that returns the next status for each request, sending nothing."""

    def __init__(self, statuses):
        super().__init__()
        self.statuses = statuses

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code = next(self.statuses)
        response.request = request
        response.url = request.url
        response._content = b"{}"
        return response
