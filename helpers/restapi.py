"""The REST API of the stack: resources, methods, integrations, model and stage.

Every method uses AWS_IAM authorisation and an AWS-service integration that
calls Step Functions directly with the API's own role. The mapping templates
and the request model are files under ``deploy/api/``.

The whole desired configuration is hashed and the hash stored in the
description of the stage's deployment, so a deploy whose configuration has
not changed touches nothing and creates no new deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable

from helpers import artifacts

logger = logging.getLogger(__name__)

DIGEST_PREFIX = "configuration sha256 "
MODEL_NAME = "ScheduledEvent"
BODY_VALIDATOR = "validate-body"
PARAMETER_VALIDATOR = "validate-parameters"
JSON = "application/json"

# Status codes each method can return; integration responses override the 400
# of a Step Functions error to 404, 409 or 429 through $context.responseOverride.
METHOD_STATUS_CODES = ("200", "400", "404", "409", "429", "500", "502")


def find_rest_api(client, name: str) -> str | None:
    """Return the id of the REST API called ``name``, or None."""
    for page in client.get_paginator("get_rest_apis").paginate():
        for api in page["items"]:
            if api["name"] == name:
                return api["id"]
    return None


def desired_methods(state_machine_arn: str) -> list[dict]:
    """Describe each method: path, verb, Step Functions action and templates."""
    arn_prefix = state_machine_arn.replace(":stateMachine:", ":execution:") + ":"
    values = {"StateMachineArn": state_machine_arn, "ExecutionArnPrefix": arn_prefix}
    error_template = artifacts.read_text("api/events-error.response.vtl")
    return [
        {
            "path": "/events",
            "httpMethod": "POST",
            "action": "StartExecution",
            "validator": BODY_VALIDATOR,
            "requestModels": {JSON: MODEL_NAME},
            "requestParameters": {},
            "requestTemplate": artifacts.read_text(
                "api/post-events.request.vtl", values
            ),
            "responseTemplate": artifacts.read_text("api/post-events.response.vtl"),
            "errorTemplate": error_template,
        },
        {
            "path": "/events/{id}",
            "httpMethod": "GET",
            "action": "DescribeExecution",
            "validator": PARAMETER_VALIDATOR,
            "requestModels": {},
            "requestParameters": {"method.request.path.id": True},
            "requestTemplate": artifacts.read_text("api/get-event.request.vtl", values),
            "responseTemplate": artifacts.read_text("api/get-event.response.vtl"),
            "errorTemplate": error_template,
        },
        {
            "path": "/events/{id}",
            "httpMethod": "DELETE",
            "action": "StopExecution",
            "validator": PARAMETER_VALIDATOR,
            "requestModels": {},
            "requestParameters": {"method.request.path.id": True},
            "requestTemplate": artifacts.read_text(
                "api/delete-event.request.vtl", values
            ),
            "responseTemplate": artifacts.read_text("api/delete-event.response.vtl"),
            "errorTemplate": error_template,
        },
    ]


class RestApiDeployer:
    """Create or reconcile the REST API of one stack."""

    def __init__(self, client, name: str, tags: dict[str, str], record: Callable):
        self.client = client
        self.name = name
        self.tags = tags
        self.record = record

    def ensure(
        self,
        role_arn: str,
        state_machine_arn: str,
        region: str,
        stage: str,
        partition: str = "aws",
    ) -> str:
        """Deploy the API and its stage; return the REST API id."""
        methods = desired_methods(state_machine_arn)
        config = {
            "role": role_arn,
            "region": region,
            "partition": partition,
            "stage": stage,
            "methods": methods,
            "schema": artifacts.event_schema(),
            "badRequestBody": artifacts.read_text("api/bad-request-body.response.vtl"),
        }
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()

        rest_api_id = find_rest_api(self.client, self.name)
        if rest_api_id is not None:
            if self._deployed_digest(rest_api_id, stage) == digest:
                self.record("REST API", self.name, "unchanged")
                return rest_api_id
            change = "updated"
        else:
            rest_api_id = self.client.create_rest_api(
                name=self.name,
                description="Schedules events: POST /events, GET, DELETE /events/{id}",
                endpointConfiguration={"types": ["REGIONAL"]},
                tags=self.tags,
            )["id"]
            change = "created"

        if change == "updated":
            self._remove_resources(rest_api_id)
        self._configure(rest_api_id, config, region)
        self._deploy(rest_api_id, stage, digest)
        self.record("REST API", self.name, change)
        return rest_api_id

    def _deployed_digest(self, rest_api_id: str, stage: str) -> str | None:
        """Return the configuration hash of the stage's deployment, or None."""
        try:
            current = self.client.get_stage(restApiId=rest_api_id, stageName=stage)
        except self.client.exceptions.NotFoundException:
            return None
        deployment = self.client.get_deployment(
            restApiId=rest_api_id, deploymentId=current["deploymentId"]
        )
        return deployment.get("description", "").removeprefix(DIGEST_PREFIX)

    def _remove_resources(self, rest_api_id: str) -> None:
        """Delete every resource but the root, deepest first, with its methods.

        API Gateway rejects PutMethod for a method that exists, and
        DeleteModel for a model that a method uses, with ConflictException,
        so an update rebuilds the methods. The stage serves its old deployment until the
        new one replaces it.
        """
        items = self.client.get_resources(restApiId=rest_api_id, limit=500)["items"]
        for item in sorted(items, key=lambda i: i["path"].count("/"), reverse=True):
            if item["path"] != "/":
                self.client.delete_resource(
                    restApiId=rest_api_id, resourceId=item["id"]
                )

    def _configure(self, rest_api_id: str, config: dict, region: str) -> None:
        self._ensure_model(rest_api_id, config["schema"])
        validators = self._ensure_validators(rest_api_id)
        resources = self._ensure_resources(rest_api_id, ["/events", "/events/{id}"])
        for method in config["methods"]:
            self._put_method(
                rest_api_id, resources[method["path"]], method, validators,
                config["role"], region, config["partition"],
            )  # fmt: skip
        self.client.put_gateway_response(
            restApiId=rest_api_id,
            responseType="BAD_REQUEST_BODY",
            statusCode="400",
            responseTemplates={JSON: config["badRequestBody"]},
        )

    def _ensure_model(self, rest_api_id: str, schema: dict) -> None:
        models = self.client.get_models(restApiId=rest_api_id)["items"]
        if any(model["name"] == MODEL_NAME for model in models):
            self.client.delete_model(restApiId=rest_api_id, modelName=MODEL_NAME)
        self.client.create_model(
            restApiId=rest_api_id,
            name=MODEL_NAME,
            contentType=JSON,
            schema=json.dumps(schema),
            description=schema["description"],
        )

    def _ensure_validators(self, rest_api_id: str) -> dict[str, str]:
        existing = {
            item["name"]: item["id"]
            for item in self.client.get_request_validators(restApiId=rest_api_id)[
                "items"
            ]
        }
        wanted = {
            BODY_VALIDATOR: {
                "validateRequestBody": True,
                "validateRequestParameters": True,
            },
            PARAMETER_VALIDATOR: {
                "validateRequestBody": False,
                "validateRequestParameters": True,
            },
        }
        for name, flags in wanted.items():
            if name not in existing:
                created = self.client.create_request_validator(
                    restApiId=rest_api_id, name=name, **flags
                )
                existing[name] = created["id"]
        return existing

    def _ensure_resources(self, rest_api_id: str, paths: list[str]) -> dict[str, str]:
        items = self.client.get_resources(restApiId=rest_api_id, limit=500)["items"]
        by_path = {item["path"]: item["id"] for item in items}
        for path in paths:
            if path in by_path:
                continue
            parent, _, part = path.rpartition("/")
            created = self.client.create_resource(
                restApiId=rest_api_id, parentId=by_path[parent or "/"], pathPart=part
            )
            by_path[path] = created["id"]
        return by_path

    def _put_method(
        self, rest_api_id, resource_id, method, validators, role, region, partition
    ):
        verb = method["httpMethod"]
        self.client.put_method(
            restApiId=rest_api_id,
            resourceId=resource_id,
            httpMethod=verb,
            authorizationType="AWS_IAM",
            requestValidatorId=validators[method["validator"]],
            requestModels=method["requestModels"],
            requestParameters=method["requestParameters"],
        )
        for status in METHOD_STATUS_CODES:
            self.client.put_method_response(
                restApiId=rest_api_id, resourceId=resource_id, httpMethod=verb,
                statusCode=status, responseModels={JSON: "Empty"},
            )  # fmt: skip
        self.client.put_integration(
            restApiId=rest_api_id,
            resourceId=resource_id,
            httpMethod=verb,
            type="AWS",
            integrationHttpMethod="POST",
            uri=f"arn:{partition}:apigateway:{region}:states:action/{method['action']}",
            credentials=role,
            passthroughBehavior="NEVER",
            requestTemplates={JSON: method["requestTemplate"]},
        )
        responses = [
            ("200", None, method["responseTemplate"]),
            ("400", r"4\d{2}", method["errorTemplate"]),
            ("500", r"5\d{2}", '{"message": "Step Functions failed on its side"}'),
        ]
        for status, pattern, template in responses:
            arguments = {"selectionPattern": pattern} if pattern else {}
            self.client.put_integration_response(
                restApiId=rest_api_id, resourceId=resource_id, httpMethod=verb,
                statusCode=status, responseTemplates={JSON: template}, **arguments,
            )  # fmt: skip

    def _deploy(self, rest_api_id: str, stage: str, digest: str) -> None:
        deployment = self.client.create_deployment(
            restApiId=rest_api_id, description=DIGEST_PREFIX + digest
        )
        stages = self.client.get_stages(restApiId=rest_api_id)["item"]
        if any(item["stageName"] == stage for item in stages):
            self.client.update_stage(
                restApiId=rest_api_id,
                stageName=stage,
                patchOperations=[
                    {
                        "op": "replace",
                        "path": "/deploymentId",
                        "value": deployment["id"],
                    }
                ],
            )
        else:
            self.client.create_stage(
                restApiId=rest_api_id,
                stageName=stage,
                deploymentId=deployment["id"],
                tags=self.tags,
            )
