"""A deployed REST API as the local gateway executes it, read from the emulator.

:func:`load_api` reads every resource with its methods (authorization type,
request validator, models, integration with its request templates and
integration responses), the models, the validators and the gateway responses,
and compiles each mapping template once. The local gateway reloads the API
when the stage points to another deployment, as API Gateway serves a stage's
deployment and not the API's latest edits.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import airspeed
import jsonschema

from helpers import validation, vtl

logger = logging.getLogger(__name__)

# arn:aws:apigateway:REGION:SERVICE:action/ACTION, the URI form of an AWS
# integration that calls a service action (as opposed to path/...).
_ACTION_URI = re.compile(r"^arn:aws[\w-]*:apigateway:([\w-]+):([\w-]+):action/(\w+)$")


class ApiConfigurationError(RuntimeError):
    """The deployed API cannot be executed as it is configured."""


@dataclass
class IntegrationResponse:
    """One integration response: its status, selection pattern and templates."""

    status_code: str
    selection_pattern: str | None
    templates: dict[str, airspeed.Template]
    parameters: dict[str, str] = field(default_factory=dict)

    def matches(self, backend_status: str) -> bool:
        """Match the selection pattern against the whole backend status code."""
        if self.selection_pattern is None:
            return False
        return re.fullmatch(self.selection_pattern, backend_status) is not None


@dataclass
class Integration:
    """An AWS integration that calls one service action with the API's role."""

    region: str
    service: str
    action: str
    credentials: str | None
    passthrough_behavior: str
    request_templates: dict[str, airspeed.Template]
    responses: list[IntegrationResponse]

    def select_response(self, backend_status: int) -> IntegrationResponse | None:
        """Pick the response whose pattern matches, else the default (no pattern)."""
        status = str(backend_status)
        for response in self.responses:
            if response.matches(status):
                return response
        return next((r for r in self.responses if r.selection_pattern is None), None)


@dataclass
class Method:
    """One HTTP method of a resource, with what the gateway checks before calling."""

    http_method: str
    resource_path: str
    resource_id: str
    authorization_type: str
    validate_body: bool
    validate_parameters: bool
    request_models: dict[str, str]
    required_parameters: list[str]
    integration: Integration | None


@dataclass
class Route:
    """A resource path such as ``/events/{id}``, compiled to a regex."""

    path: str
    pattern: re.Pattern
    methods: dict[str, Method]


@dataclass
class GatewayResponse:
    """A gateway response that the API configured for one response type."""

    status_code: str | None
    templates: dict[str, str]
    headers: dict[str, str]


@dataclass
class DeployedApi:
    """The parts of a REST API deployment that the local gateway executes."""

    rest_api_id: str
    deployment_id: str
    routes: list[Route]
    validators: dict[str, jsonschema.protocols.Validator]
    gateway_responses: dict[str, GatewayResponse]

    def find(self, path: str) -> tuple[Route, dict[str, str]] | None:
        """Return the route matching a stage-relative path and its path parameters."""
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match:
                return route, match.groupdict()
        return None


def _route_pattern(path: str) -> re.Pattern:
    """Compile ``/events/{id}`` to a regex; ``{name+}`` matches several segments."""
    parts = []
    for segment in path.strip("/").split("/") if path != "/" else []:
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        single = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            parts.append(f"(?P<{greedy.group(1)}>.+)")
        elif single:
            parts.append(f"(?P<{single.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts))


def _compile_templates(templates: dict[str, str] | None, where: str) -> dict:
    return {
        content_type: vtl.compile_template(text, f"{where} ({content_type})")
        for content_type, text in (templates or {}).items()
    }


def _integration(raw: dict, where: str) -> Integration:
    match = _ACTION_URI.match(raw.get("uri", ""))
    if raw.get("type") != "AWS" or match is None:
        raise ApiConfigurationError(
            f"{where}: the local gateway runs only AWS integrations with an "
            f"action URI, not type {raw.get('type')!r} with URI {raw.get('uri')!r}"
        )
    responses = [
        IntegrationResponse(
            status_code=item["statusCode"],
            selection_pattern=item.get("selectionPattern"),
            templates=_compile_templates(
                item.get("responseTemplates"), f"{where} response {status}"
            ),
            parameters=item.get("responseParameters") or {},
        )
        for status, item in (raw.get("integrationResponses") or {}).items()
    ]
    return Integration(
        region=match.group(1),
        service=match.group(2),
        action=match.group(3),
        credentials=raw.get("credentials"),
        passthrough_behavior=raw.get("passthroughBehavior", "WHEN_NO_MATCH"),
        request_templates=_compile_templates(
            raw.get("requestTemplates"), f"{where} request"
        ),
        responses=responses,
    )


def _method(raw: dict, resource: dict, validators: dict[str, dict]) -> Method:
    where = f"{raw['httpMethod']} {resource['path']}"
    validator = validators.get(raw.get("requestValidatorId") or "", {})
    required = [
        name.removeprefix("method.request.")
        for name, is_required in (raw.get("requestParameters") or {}).items()
        if is_required
    ]
    integration = raw.get("methodIntegration")
    return Method(
        http_method=raw["httpMethod"],
        resource_path=resource["path"],
        resource_id=resource["id"],
        authorization_type=raw.get("authorizationType", "NONE"),
        validate_body=bool(validator.get("validateRequestBody")),
        validate_parameters=bool(validator.get("validateRequestParameters")),
        request_models=raw.get("requestModels") or {},
        required_parameters=required,
        integration=_integration(integration, where) if integration else None,
    )


def _model_validators(client, rest_api_id: str) -> dict:
    """Compile each model's JSON Schema (draft 4, as API Gateway uses)."""
    compiled = {}
    for model in client.get_models(restApiId=rest_api_id, limit=500)["items"]:
        schema = json.loads(model.get("schema") or "{}")
        compiled[model["name"]] = validation.model_validator(schema)
    return compiled


def _gateway_responses(client, rest_api_id: str) -> dict[str, GatewayResponse]:
    items = client.get_gateway_responses(restApiId=rest_api_id, limit=500)["items"]
    return {
        item["responseType"]: GatewayResponse(
            status_code=item.get("statusCode"),
            templates=item.get("responseTemplates") or {},
            headers=item.get("responseParameters") or {},
        )
        for item in items
    }


def _load_routes(client, rest_api_id: str) -> list[Route]:
    validators = {
        item["id"]: item
        for item in client.get_request_validators(restApiId=rest_api_id, limit=500)[
            "items"
        ]
    }
    resources = client.get_resources(
        restApiId=rest_api_id, embed=["methods"], limit=500
    )["items"]
    routes = [
        Route(
            path=resource["path"],
            pattern=_route_pattern(resource["path"]),
            methods={
                verb: _method(raw, resource, validators)
                for verb, raw in (resource.get("resourceMethods") or {}).items()
            },
        )
        for resource in resources
    ]
    # Literal segments win over parameters, as in API Gateway: /a/b before /a/{x}.
    routes.sort(key=lambda route: (route.path.count("{"), -len(route.path)))
    return routes


def load_api(client, rest_api_id: str, deployment_id: str) -> DeployedApi:
    """Read the REST API from an ``apigateway`` client and compile it."""
    routes = _load_routes(client, rest_api_id)
    logger.info(
        "loaded REST API %s deployment %s: %d resources",
        rest_api_id, deployment_id, len(routes),
    )  # fmt: skip
    return DeployedApi(
        rest_api_id=rest_api_id,
        deployment_id=deployment_id,
        routes=routes,
        validators=_model_validators(client, rest_api_id),
        gateway_responses=_gateway_responses(client, rest_api_id),
    )


def _schema_message(error: jsonschema.ValidationError) -> str:
    """Word a violation with JSON values (null, "text"), not Python reprs."""
    value = json.dumps(error.instance, ensure_ascii=False)
    if len(value) > 100:
        value = value[:97] + "..."
    keyword, expected = error.validator, error.validator_value
    messages = {
        "type": f"{value} is not of type {json.dumps(expected)}",
        "pattern": f"{value} does not match the pattern {expected}",
        "maxLength": f"{value} is longer than {expected} characters",
        "minLength": f"{value} is shorter than {expected} characters",
    }
    return messages.get(keyword, error.message)


def describe_schema_errors(validator: Any, document: Any) -> list[str]:
    """List each schema violation as ``/pointer: message (keyword)``, sorted by path.

    NOTE: API Gateway words these messages differently, and its messages do
    not always name the field. The pointer is the local gateway's addition.
    """
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    lines = []
    for error in errors:
        pointer = "/" + "/".join(str(part) for part in error.path)
        lines.append(f"{pointer}: {_schema_message(error)} ({error.validator})")
    return lines
