"""Deploy and tear down the stack resource by resource with boto3.

The stack is an action Lambda function, a Step Functions state machine that
waits for ``$.dueDate`` and then invokes it, a REST API that starts, describes
and stops executions, and one IAM role for each of the three. CloudFormation
is not used because moto's CloudFormation stores state machines where its
Step Functions interpreter cannot run them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from botocore.exceptions import ClientError

from helpers import artifacts, restapi, signing
from helpers.target import Target

logger = logging.getLogger(__name__)

STACK_TAG = "timestamp-lab:stack"
DEFAULT_STACK_NAME = "timestamp-events"
DEFAULT_STAGE = "v1"
LAMBDA_RUNTIME = "python3.12"

# Role names allow 64 characters and the longest suffix is "-scheduler-role"
# (15), so a stack name of 40 characters keeps every name within its limit.
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,39}$")

# A new IAM role cannot be assumed by Lambda or Step Functions until it has
# propagated, which takes several seconds on AWS and never happens on moto.
# 30 attempts with 2 s between them wait at most 29 x 2 s = 58 s in total.
ROLE_PROPAGATION_ATTEMPTS = 30
ROLE_PROPAGATION_DELAY_S = 2.0
_ROLE_NOT_ASSUMABLE = (
    ("InvalidParameterValueException", "cannot be assumed by Lambda"),
    ("AccessDeniedException", "is authorized to assume the provided role"),
    ("AccessDeniedException", "not authorized to assume the provided role"),
)


# The readiness probe after an AWS deploy; see wait_until_api_ready.
API_PROBE_ID = "readiness-probe"
API_READY_ATTEMPTS = 30
API_READY_DELAY_S = 2.0
# DeleteRestApi is limited to one request every 30 s per account (API
# Gateway quotas), so a throttled delete waits 31 s, at most 3 x 31 = 93 s.
DELETE_REST_API_ATTEMPTS = 4
DELETE_REST_API_DELAY_S = 31.0
# Executions started while a teardown stops the others are stopped in
# another round, up to this many rounds.
STOP_ROUNDS = 3
# A deleted state machine with no running execution is usually gone within
# seconds, so the teardown waits at most 30 x 2 s = 60 s for it.
STATE_MACHINE_GONE_ATTEMPTS = 30
STATE_MACHINE_GONE_DELAY_S = 2.0


class StackError(RuntimeError):
    """The stack could not be planned, deployed or torn down."""


@dataclass
class StackNames:
    """The name of every resource of a stack, derived from the stack name."""

    stack: str

    def __post_init__(self) -> None:
        if not _STACK_NAME.match(self.stack):
            raise StackError(
                f"invalid stack name {self.stack!r}: use 1 to 40 letters, digits "
                "and hyphens, starting with a letter"
            )

    @property
    def function(self) -> str:
        return f"{self.stack}-action"

    @property
    def state_machine(self) -> str:
        return f"{self.stack}-scheduler"

    @property
    def rest_api(self) -> str:
        return f"{self.stack}-api"

    @property
    def function_role(self) -> str:
        return f"{self.stack}-action-role"

    @property
    def state_machine_role(self) -> str:
        return f"{self.stack}-scheduler-role"

    @property
    def api_role(self) -> str:
        return f"{self.stack}-api-role"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"


@dataclass
class StackPlan:
    """The resources :func:`deploy_stack` would create, to read before confirming."""

    account_id: str
    region: str
    target: str
    resources: list[tuple[str, str]]

    def __str__(self) -> str:
        lines = [
            f"Target:  {self.target}",
            f"Account: {self.account_id}",
            f"Region:  {self.region}",
            "Resources to create or update:",
        ]
        lines += [f"  - {kind}: {name}" for kind, name in self.resources]
        return "\n".join(lines)


@dataclass
class StackOutputs:
    """Identifiers of a deployed stack, the same on every deploy of it."""

    stack_name: str
    region: str
    account_id: str
    function_arn: str
    state_machine_arn: str
    rest_api_id: str
    stage: str
    endpoint_url: str
    role_arns: dict[str, str] = field(default_factory=dict)
    changes: list[tuple[str, str, str]] = field(default_factory=list, compare=False)

    @property
    def events_url(self) -> str:
        return f"{self.endpoint_url}/events"


def plan_stack(target: Target, stack_name: str = DEFAULT_STACK_NAME) -> StackPlan:
    """List the resources of the stack with the account and region they go to."""
    names = StackNames(stack_name)
    resources = [
        ("IAM role", names.function_role),
        ("IAM role", names.state_machine_role),
        ("IAM role", names.api_role),
        ("Lambda function", names.function),
        ("Step Functions state machine (standard)", names.state_machine),
        ("API Gateway REST API with stage " + DEFAULT_STAGE, names.rest_api),
    ]
    if target.kind == "aws":
        resources.append(
            ("CloudWatch Logs log group (created by Lambda)", names.log_group)
        )
    return StackPlan(target.account_id(), target.region, target.description, resources)


def deploy_stack(
    target: Target,
    stack_name: str = DEFAULT_STACK_NAME,
    *,
    confirm_account: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> StackOutputs:
    """Create or update every resource of the stack; a second run changes nothing.

    On ``target.kind == "aws"`` nothing is created unless ``confirm_account``
    equals the account id that :func:`plan_stack` shows.
    """
    names = StackNames(stack_name)
    account_id = target.account_id()
    if target.kind == "aws" and confirm_account != account_id:
        raise StackError(
            f"refusing to deploy to AWS account {account_id} in {target.region} "
            "without confirmation: read plan_stack(target) and pass "
            f"confirm_account={account_id!r}"
        )

    deployer = _Deployer(target, names, account_id, sleep)
    outputs = deployer.run()
    if target.kind == "aws":
        session = requests.Session()
        session.auth = signing.request_auth(target)
        wait_until_api_ready(outputs.events_url, session, sleep)
    return outputs


def wait_until_api_ready(
    events_url: str, session: requests.Session, sleep: Callable[[float], None]
) -> int:
    """GET an unknown event until the API returns 404; return the attempts made.

    API Gateway assumes the API's role at request time, and a new role or
    stage gets 5xx or 403 responses until it has propagated. A 404 shows that the
    request went through the role to Step Functions. 30 attempts with 2 s
    between them wait at most 29 x 2 s = 58 s in total.
    """
    url = f"{events_url}/{API_PROBE_ID}"
    status = None
    for attempt in range(1, API_READY_ATTEMPTS + 1):
        try:
            status = session.get(url, timeout=30).status_code
        except requests.RequestException as error:
            logger.info("API readiness probe failed: %s", error)
        if status == 404:
            return attempt
        if attempt < API_READY_ATTEMPTS:
            logger.info(
                "API not ready (HTTP %s, attempt %d of %d), waiting %.0f s",
                status, attempt, API_READY_ATTEMPTS, API_READY_DELAY_S,
            )  # fmt: skip
            sleep(API_READY_DELAY_S)
    raise StackError(
        f"the API at {events_url} still returned HTTP {status} to GET of an unknown "
        f"event after {API_READY_ATTEMPTS} attempts; check its role and stage"
    )


class _Deployer:
    """One deploy: ensures each resource in dependency order and records changes."""

    def __init__(self, target: Target, names: StackNames, account_id: str, sleep):
        self.target = target
        self.names = names
        self.account_id = account_id
        self.sleep = sleep
        self.partition = target.partition
        self.changes: list[tuple[str, str, str]] = []
        self.iam = target.client("iam")

    def values(self, **extra: str) -> dict[str, str]:
        return {
            "AccountId": self.account_id,
            "Region": self.target.region,
            "Partition": self.partition,
            **extra,
        }

    def record(self, kind: str, name: str, change: str) -> None:
        logger.info("%s %s: %s", kind, name, change)
        self.changes.append((kind, name, change))

    def run(self) -> StackOutputs:
        names = self.names
        function_role = self.ensure_role(
            names.function_role,
            "lambda-trust.json",
            "action-function-policy.json",
            self.values(FunctionName=names.function),
        )
        function_arn = self.ensure_function(function_role)
        machine_role = self.ensure_role(
            names.state_machine_role,
            "states-trust.json",
            "state-machine-policy.json",
            self.values(ActionFunctionArn=function_arn),
        )
        machine_arn = self.ensure_state_machine(machine_role, function_arn)
        api_role = self.ensure_role(
            names.api_role,
            "apigateway-trust.json",
            "api-policy.json",
            self.values(
                StateMachineArn=machine_arn, StateMachineName=names.state_machine
            ),
        )
        api = restapi.RestApiDeployer(
            self.target.client("apigateway"),
            names.rest_api,
            self.tags_map(),
            self.record,
        )
        rest_api_id = api.ensure(
            api_role, machine_arn, self.target.region, DEFAULT_STAGE, self.partition
        )
        return StackOutputs(
            stack_name=names.stack,
            region=self.target.region,
            account_id=self.account_id,
            function_arn=function_arn,
            state_machine_arn=machine_arn,
            rest_api_id=rest_api_id,
            stage=DEFAULT_STAGE,
            endpoint_url=endpoint_url(self.target, rest_api_id, DEFAULT_STAGE),
            role_arns={
                "function": function_role,
                "state_machine": machine_role,
                "api": api_role,
            },
            changes=self.changes,
        )

    def tags_map(self) -> dict[str, str]:
        return {STACK_TAG: self.names.stack}

    def ensure_role(
        self, name: str, trust_file: str, policy_file: str, values: dict[str, str]
    ) -> str:
        """Create the role with its trust policy and inline policy, or update them."""
        trust = json.dumps(artifacts.read_json(f"iam/{trust_file}", values))
        policy = json.dumps(artifacts.read_json(f"iam/{policy_file}", values))
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except self.iam.exceptions.NoSuchEntityException:
            role = self.iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=trust,
                Tags=[{"Key": STACK_TAG, "Value": self.names.stack}],
            )["Role"]
            self.iam.put_role_policy(
                RoleName=name, PolicyName=policy_file.removesuffix(".json"),
                PolicyDocument=policy,
            )  # fmt: skip
            self.record("IAM role", name, "created")
            return role["Arn"]

        changed = self._update_role(name, role, trust, policy_file, policy)
        self.record("IAM role", name, "updated" if changed else "unchanged")
        return role["Arn"]

    def _update_role(self, name, role, trust, policy_file, policy) -> bool:
        changed = False
        if _policy_document(role["AssumeRolePolicyDocument"]) != json.loads(trust):
            self.iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            changed = True
        policy_name = policy_file.removesuffix(".json")
        try:
            current = self.iam.get_role_policy(RoleName=name, PolicyName=policy_name)
            current_document = _policy_document(current["PolicyDocument"])
        except self.iam.exceptions.NoSuchEntityException:
            current_document = None
        if current_document != json.loads(policy):
            self.iam.put_role_policy(
                RoleName=name, PolicyName=policy_name, PolicyDocument=policy
            )
            changed = True
        return changed

    def ensure_function(self, role_arn: str) -> str:
        """Create the action function, or update its code and settings."""
        client = self.target.client("lambda")
        name = self.names.function
        code = artifacts.lambda_zip()
        try:
            current = client.get_function(FunctionName=name)["Configuration"]
        except client.exceptions.ResourceNotFoundException:
            created = self.retry_until_role_assumable(
                lambda: client.create_function(
                    FunctionName=name,
                    Runtime=LAMBDA_RUNTIME,
                    Role=role_arn,
                    Handler="handler.handler",
                    Code={"ZipFile": code},
                    Timeout=10,
                    MemorySize=128,
                    Tags=self.tags_map(),
                ),
                f"Lambda function {name}",
            )
            # A new function is Pending, and Lambda rejects invocations and
            # updates of it until it is Active.
            client.get_waiter("function_active_v2").wait(FunctionName=name)
            self.record("Lambda function", name, "created")
            return created["FunctionArn"]

        changed = False
        if current["CodeSha256"] != _lambda_code_sha256(code):
            client.update_function_code(FunctionName=name, ZipFile=code)
            changed = True
        if current["Role"] != role_arn or current.get("Runtime") != LAMBDA_RUNTIME:
            # Lambda rejects an update with ResourceConflictException while
            # the previous one is in progress.
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
            client.update_function_configuration(
                FunctionName=name, Role=role_arn, Runtime=LAMBDA_RUNTIME
            )
            changed = True
        if changed:
            client.get_waiter("function_updated_v2").wait(FunctionName=name)
        self.record("Lambda function", name, "updated" if changed else "unchanged")
        return current["FunctionArn"]

    def ensure_state_machine(self, role_arn: str, function_arn: str) -> str:
        """Create the standard state machine, or update its definition and role."""
        try:
            return self._ensure_state_machine(role_arn, function_arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "StateMachineDeleting":
                raise
            raise StackError(
                f"state machine {self.names.state_machine} is still being deleted: "
                "Step Functions deletes it once its last execution has ended; run "
                "teardown_stack again to stop them, then deploy"
            ) from error

    def _ensure_state_machine(self, role_arn: str, function_arn: str) -> str:
        client = self.target.client("stepfunctions")
        name = self.names.state_machine
        definition = artifacts.state_machine_definition(function_arn)
        existing = _find_state_machine(client, name)
        if existing is None:
            created = self.retry_until_role_assumable(
                lambda: client.create_state_machine(
                    name=name,
                    definition=definition,
                    roleArn=role_arn,
                    type="STANDARD",
                    tags=[{"key": STACK_TAG, "value": self.names.stack}],
                ),
                f"state machine {name}",
            )
            self.record("State machine", name, "created")
            return created["stateMachineArn"]

        current = client.describe_state_machine(stateMachineArn=existing)
        same_definition = json.loads(current["definition"]) == json.loads(definition)
        if same_definition and current["roleArn"] == role_arn:
            self.record("State machine", name, "unchanged")
        else:
            client.update_state_machine(
                stateMachineArn=existing, definition=definition, roleArn=role_arn
            )
            self.record("State machine", name, "updated")
        return existing

    def retry_until_role_assumable(self, create: Callable[[], dict], what: str) -> dict:
        """Call ``create`` again while AWS reports the new role as not assumable yet."""
        for attempt in range(1, ROLE_PROPAGATION_ATTEMPTS + 1):
            try:
                return create()
            except ClientError as error:
                if not _is_role_not_assumable(error):
                    raise
                if attempt == ROLE_PROPAGATION_ATTEMPTS:
                    raise StackError(
                        f"creating {what} failed because its IAM role could "
                        f"still not be assumed after {attempt} attempts"
                    ) from error
                logger.info(
                    "%s: the new IAM role is not assumable yet (attempt %d of %d), "
                    "waiting %.0f s", what, attempt, ROLE_PROPAGATION_ATTEMPTS,
                    ROLE_PROPAGATION_DELAY_S,
                )  # fmt: skip
                self.sleep(ROLE_PROPAGATION_DELAY_S)
        raise AssertionError("unreachable")


def _is_role_not_assumable(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return any(
        code == expected and fragment in message
        for expected, fragment in _ROLE_NOT_ASSUMABLE
    )


def _policy_document(document) -> dict:
    """Parse a policy document that IAM returns either decoded or URL-encoded."""
    if isinstance(document, dict):
        return document
    from urllib.parse import unquote

    return json.loads(unquote(document))


def _lambda_code_sha256(code: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(code).digest()).decode()


def _find_state_machine(client, name: str) -> str | None:
    for page in client.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return machine["stateMachineArn"]
    return None


def endpoint_url(target: Target, rest_api_id: str, stage: str) -> str:
    """Return the stage URL: execute-api on AWS, the local gateway locally."""
    if target.kind == "aws":
        host = f"{rest_api_id}.execute-api.{target.region}.{target.dns_suffix}"
        return f"https://{host}/{stage}"
    return target.lab.start_gateway(rest_api_id, stage)


def describe_stack(
    target: Target, stack_name: str = DEFAULT_STACK_NAME
) -> StackOutputs:
    """Return the outputs of a deployed stack without changing anything."""
    names = StackNames(stack_name)
    found = find_stack_resources(target, names)
    missing = [kind for kind, value in found.items() if value is None]
    if missing:
        raise StackError(
            f"stack {stack_name!r} is not fully deployed on the {target.description} "
            f"target (missing: {', '.join(missing)}); run deploy_stack first"
        )
    return StackOutputs(
        stack_name=stack_name,
        region=target.region,
        account_id=target.account_id(),
        function_arn=found["function"],
        state_machine_arn=found["state_machine"],
        rest_api_id=found["rest_api"],
        stage=DEFAULT_STAGE,
        endpoint_url=endpoint_url(target, found["rest_api"], DEFAULT_STAGE),
        role_arns={k: found[f"{k}_role"] for k in ("function", "state_machine", "api")},
    )


def find_stack_resources(target: Target, names: StackNames) -> dict[str, str | None]:
    """Look up each resource of the stack; map it to its ARN or id, or None."""
    lambda_client = target.client("lambda")
    try:
        function = lambda_client.get_function(FunctionName=names.function)
        function_arn = function["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        function_arn = None
    iam = target.client("iam")
    roles = {}
    for key, role in (
        ("function_role", names.function_role),
        ("state_machine_role", names.state_machine_role),
        ("api_role", names.api_role),
    ):
        try:
            roles[key] = iam.get_role(RoleName=role)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            roles[key] = None
    return {
        "function": function_arn,
        "state_machine": _find_state_machine(
            target.client("stepfunctions"), names.state_machine
        ),
        "rest_api": restapi.find_rest_api(target.client("apigateway"), names.rest_api),
        **roles,
    }


def teardown_stack(
    target: Target,
    stack_name: str = DEFAULT_STACK_NAME,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Delete every resource of the stack in dependency order; safe to run twice.

    Running executions are stopped first, so nothing keeps running or billing
    after the state machine is gone. Returns one line per deleted resource.
    ``sleep`` waits between retries; tests replace it to run without waiting.
    """
    names = StackNames(stack_name)
    deleted: list[str] = []
    _delete_rest_api(target, names, deleted, sleep)
    _delete_state_machine(target, names, deleted, sleep)
    _delete_function(target, names, deleted)
    for role in (names.api_role, names.state_machine_role, names.function_role):
        _delete_role(target.client("iam"), role, deleted)
    return deleted


def _delete_rest_api(
    target: Target, names: StackNames, deleted: list[str], sleep: Callable
) -> None:
    client = target.client("apigateway")
    rest_api_id = restapi.find_rest_api(client, names.rest_api)
    if rest_api_id is None:
        return
    if target.lab is not None:
        target.lab.stop_gateway(rest_api_id)
    for attempt in range(1, DELETE_REST_API_ATTEMPTS + 1):
        try:
            client.delete_rest_api(restApiId=rest_api_id)
            break
        except client.exceptions.TooManyRequestsException:
            if attempt == DELETE_REST_API_ATTEMPTS:
                raise
            logger.info(
                "DeleteRestApi of %s throttled (attempt %d of %d), waiting %.0f s",
                rest_api_id, attempt, DELETE_REST_API_ATTEMPTS,
                DELETE_REST_API_DELAY_S,
            )  # fmt: skip
            sleep(DELETE_REST_API_DELAY_S)
    deleted.append(f"REST API {names.rest_api} ({rest_api_id})")


def _delete_state_machine(
    target: Target, names: StackNames, deleted: list[str], sleep: Callable
) -> None:
    client = target.client("stepfunctions")
    arn = _find_state_machine(client, names.state_machine)
    if arn is None:
        return
    cause = f"teardown of stack {names.stack}"
    for _ in range(STOP_ROUNDS):
        if stop_running_executions(client, arn, cause) == 0:
            break
    client.delete_state_machine(stateMachineArn=arn)
    _wait_until_state_machine_gone(client, arn, sleep)
    deleted.append(f"state machine {names.state_machine}")


def _wait_until_state_machine_gone(client, arn: str, sleep: Callable) -> None:
    """Wait while the state machine is DELETING, so a deploy can follow at once.

    DeleteStateMachine returns before the machine is gone: Step Functions
    deletes it once its executions have ended. Gives up after
    STATE_MACHINE_GONE_ATTEMPTS and logs a warning, because the deletion goes
    on without the kit.
    """
    for _ in range(STATE_MACHINE_GONE_ATTEMPTS):
        try:
            client.describe_state_machine(stateMachineArn=arn)
        except client.exceptions.StateMachineDoesNotExist:
            return
        sleep(STATE_MACHINE_GONE_DELAY_S)
    logger.warning("state machine %s is still being deleted", arn)


def stop_running_executions(client, state_machine_arn: str, cause: str) -> int:
    """Stop every RUNNING execution of the state machine; return how many.

    The listing is read whole before any execution is stopped, because
    stopping while paging could shift the pages and skip executions.
    """
    paginator = client.get_paginator("list_executions")
    pages = paginator.paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    )
    arns = [e["executionArn"] for page in pages for e in page["executions"]]
    for arn in arns:
        client.stop_execution(executionArn=arn, error="StackTornDown", cause=cause)
    return len(arns)


def _delete_function(target: Target, names: StackNames, deleted: list[str]) -> None:
    client = target.client("lambda")
    try:
        client.delete_function(FunctionName=names.function)
        deleted.append(f"Lambda function {names.function}")
    except client.exceptions.ResourceNotFoundException:
        pass
    if target.kind == "aws":
        logs = target.client("logs")
        try:
            logs.delete_log_group(logGroupName=names.log_group)
            deleted.append(f"log group {names.log_group}")
        except logs.exceptions.ResourceNotFoundException:
            pass


def _delete_role(iam, role: str, deleted: list[str]) -> None:
    try:
        policy_names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    except iam.exceptions.NoSuchEntityException:
        return
    for policy_name in policy_names:
        iam.delete_role_policy(RoleName=role, PolicyName=policy_name)
    # The kit attaches no managed policy, but DeleteRole fails while one is.
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    for policy in attached:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=role)
    deleted.append(f"IAM role {role}")
