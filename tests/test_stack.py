"""Deploy, reconcile and tear down the stack on the real local lab."""

from __future__ import annotations

import json
import uuid

import pytest

from helpers import restapi
from helpers.stack import (
    STACK_TAG,
    StackError,
    StackNames,
    deploy_stack,
    find_stack_resources,
    plan_stack,
    stop_running_executions,
    teardown_stack,
)


def _inline_policy(target, role_name: str) -> dict:
    iam = target.client("iam")
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)
    return document["PolicyDocument"]


def test_deploy_second_run_changes_nothing(target, stack):
    again = deploy_stack(target, stack.stack_name)

    assert again == stack
    assert {change for _, _, change in again.changes} == {"unchanged"}


def test_deploy_second_run_creates_no_deployment(target, stack):
    client = target.client("apigateway")
    before = client.get_deployments(restApiId=stack.rest_api_id)["items"]

    deploy_stack(target, stack.stack_name)

    after = client.get_deployments(restApiId=stack.rest_api_id)["items"]
    assert len(after) == len(before)


def test_deploy_tags_every_resource(target, stack):
    names = StackNames(stack.stack_name)
    iam = target.client("iam")
    for role in (names.function_role, names.state_machine_role, names.api_role):
        tags = iam.list_role_tags(RoleName=role)["Tags"]
        assert {"Key": STACK_TAG, "Value": stack.stack_name} in tags, role
    function_tags = target.client("lambda").list_tags(Resource=stack.function_arn)
    assert function_tags["Tags"][STACK_TAG] == stack.stack_name
    machine_tags = target.client("stepfunctions").list_tags_for_resource(
        resourceArn=stack.state_machine_arn
    )["tags"]
    assert {"key": STACK_TAG, "value": stack.stack_name} in machine_tags
    api = target.client("apigateway").get_rest_api(restApiId=stack.rest_api_id)
    assert api["tags"][STACK_TAG] == stack.stack_name


def test_state_machine_role_invokes_only_action_function(target, stack):
    names = StackNames(stack.stack_name)
    (statement,) = _inline_policy(target, names.state_machine_role)["Statement"]

    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Resource"] == [stack.function_arn, f"{stack.function_arn}:*"]


def test_api_role_reaches_only_its_state_machine(target, stack):
    names = StackNames(stack.stack_name)
    statements = _inline_policy(target, names.api_role)["Statement"]
    execution_arns = stack.state_machine_arn.replace(":stateMachine:", ":execution:")

    actions = {
        action
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                       else statement["Action"])
    }  # fmt: skip
    resources = {statement["Resource"] for statement in statements}
    assert actions == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
    }
    assert resources == {stack.state_machine_arn, f"{execution_arns}:*"}


def test_state_machine_waits_then_invokes_action(target, stack):
    description = target.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machine_arn
    )
    definition = json.loads(description["definition"])
    wait = definition["States"][definition["StartAt"]]
    task = definition["States"][wait["Next"]]

    assert description["type"] == "STANDARD"
    assert wait == {"Type": "Wait", "TimestampPath": "$.dueDate", "Next": "RunAction"}
    assert task["Resource"] == stack.function_arn
    assert "Lambda.TooManyRequestsException" in task["Retry"][0]["ErrorEquals"]


def test_rest_api_methods_use_iam_and_step_functions(target, stack):
    client = target.client("apigateway")
    resources = client.get_resources(restApiId=stack.rest_api_id)["items"]
    by_path = {item["path"]: item["id"] for item in resources}
    expected = [
        ("/events", "POST", "StartExecution"),
        ("/events/{id}", "GET", "DescribeExecution"),
        ("/events/{id}", "DELETE", "StopExecution"),
    ]
    for path, verb, action in expected:
        method = client.get_method(
            restApiId=stack.rest_api_id, resourceId=by_path[path], httpMethod=verb
        )
        integration = method["methodIntegration"]
        assert method["authorizationType"] == "AWS_IAM", (path, verb)
        assert method["requestValidatorId"], (path, verb)
        assert integration["type"] == "AWS", (path, verb)
        assert integration["uri"].endswith(f":states:action/{action}"), (path, verb)
        assert integration["credentials"] == stack.role_arns["api"], (path, verb)


def test_rest_api_validates_post_body_with_model(target, stack):
    client = target.client("apigateway")
    by_path = {
        item["path"]: item["id"]
        for item in client.get_resources(restApiId=stack.rest_api_id)["items"]
    }
    method = client.get_method(
        restApiId=stack.rest_api_id, resourceId=by_path["/events"], httpMethod="POST"
    )
    validator = client.get_request_validator(
        restApiId=stack.rest_api_id, requestValidatorId=method["requestValidatorId"]
    )
    model = client.get_model(restApiId=stack.rest_api_id, modelName=restapi.MODEL_NAME)

    assert method["requestModels"] == {"application/json": restapi.MODEL_NAME}
    assert validator["validateRequestBody"] is True
    assert json.loads(model["schema"])["required"] == ["dueDate"]


def test_rest_api_has_stage(target, stack):
    stage = target.client("apigateway").get_stage(
        restApiId=stack.rest_api_id, stageName=stack.stage
    )

    assert stage["deploymentId"]
    assert stack.endpoint_url.endswith(f"/{stack.stage}")


def test_teardown_leaves_nothing_of_stack(target):
    name = f"gone-{uuid.uuid4().hex[:8]}"
    deploy_stack(target, name)

    deleted = teardown_stack(target, name)

    remaining = find_stack_resources(target, StackNames(name))
    assert remaining == dict.fromkeys(remaining)
    assert len(deleted) == 6


def test_teardown_detaches_managed_policy(target):
    name = f"managed-{uuid.uuid4().hex[:8]}"
    deploy_stack(target, name)
    iam = target.client("iam")
    policy = iam.create_policy(
        PolicyName=f"{name}-extra",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
            }
        ),
    )["Policy"]
    role = StackNames(name).function_role
    iam.attach_role_policy(RoleName=role, PolicyArn=policy["Arn"])

    teardown_stack(target, name)

    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=role)
    iam.delete_policy(PolicyArn=policy["Arn"])


def test_teardown_twice_is_safe(target):
    name = f"twice-{uuid.uuid4().hex[:8]}"
    deploy_stack(target, name)
    teardown_stack(target, name)

    assert teardown_stack(target, name) == []


def test_stop_running_executions_aborts_pending_events(target, stack, event_id):
    client = target.client("stepfunctions")
    execution = client.start_execution(
        stateMachineArn=stack.state_machine_arn,
        name=event_id,
        input=json.dumps({"dueDate": "2099-01-01T00:00:00Z"}),
    )["executionArn"]

    stopped = stop_running_executions(client, stack.state_machine_arn, "test")

    assert stopped >= 1
    assert client.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_teardown_stops_local_gateway(target, lab):
    name = f"quiet-{uuid.uuid4().hex[:8]}"
    outputs = deploy_stack(target, name)

    teardown_stack(target, name)

    assert lab.gateway_url(outputs.rest_api_id, outputs.stage) is None


def test_plan_lists_every_resource(target):
    plan = plan_stack(target, "planned")

    assert plan.account_id == "123456789012"
    assert plan.region == target.region
    assert [name for _, name in plan.resources] == [
        "planned-action-role",
        "planned-scheduler-role",
        "planned-api-role",
        "planned-action",
        "planned-scheduler",
        "planned-api",
    ]


@pytest.mark.parametrize("name", ["", "1starts-with-digit", "has_underscore", "x" * 41])
def test_stack_names_rejects_invalid_name(name):
    with pytest.raises(StackError, match="invalid stack name"):
        StackNames(name)


class StrictApiGateway:
    """An API Gateway client that rejects what AWS rejects and moto allows.

    AWS rejects PutMethod for a method that exists, and DeleteModel for a
    model that a method still uses, with ConflictException. moto 5.2.5
    overwrites the method and deletes the model.
    """

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def _conflict(self, operation: str, message: str):
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "ConflictException", "Message": message}}
        return ClientError(error, operation)

    def put_method(self, **arguments):
        try:
            self._client.get_method(
                restApiId=arguments["restApiId"],
                resourceId=arguments["resourceId"],
                httpMethod=arguments["httpMethod"],
            )
        except self._client.exceptions.NotFoundException:
            return self._client.put_method(**arguments)
        raise self._conflict("PutMethod", "Method already exists for this resource")

    def delete_model(self, restApiId, modelName):
        resources = self._client.get_resources(restApiId=restApiId, embed=["methods"])
        for resource in resources["items"]:
            for method in resource.get("resourceMethods", {}).values():
                if modelName in method.get("requestModels", {}).values():
                    raise self._conflict(
                        "DeleteModel", f"Cannot delete model '{modelName}'"
                    )
        return self._client.delete_model(restApiId=restApiId, modelName=modelName)


def test_rest_api_update_passes_aws_conflict_rules(target):
    client = StrictApiGateway(target.client("apigateway"))
    name = f"strict-{uuid.uuid4().hex[:8]}-api"
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:strict"
    changes = []
    deployer = restapi.RestApiDeployer(client, name, {}, lambda *c: changes.append(c))
    first_role = "arn:aws:iam::123456789012:role/first"
    second_role = "arn:aws:iam::123456789012:role/second"

    created = deployer.ensure(first_role, machine, target.region, "v1")
    updated = deployer.ensure(second_role, machine, target.region, "v1")

    try:
        assert updated == created
        assert [change for _, _, change in changes] == ["created", "updated"]
        resources = client.get_resources(restApiId=created)["items"]
        events = next(r for r in resources if r["path"] == "/events")
        integration = client.get_integration(
            restApiId=created, resourceId=events["id"], httpMethod="POST"
        )
        assert integration["credentials"] == second_role
    finally:
        client.delete_rest_api(restApiId=created)
