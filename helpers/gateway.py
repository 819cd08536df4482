"""The local stand-in for API Gateway's execute-api endpoint of one REST API.

Run as ``python -m helpers.gateway --emulator URL --rest-api-id ID --region
REGION --ready-file PATH``. The process binds 127.0.0.1 on a free port, writes
``{"port": ..., "pid": ...}`` to the ready file and serves
``http://127.0.0.1:PORT/<stage>/<path>`` until it is terminated.

moto stores REST APIs but does not execute AWS-service integrations. This
process therefore reads the deployed API from the emulator and executes it
the way API Gateway does. It routes the request, checks the SigV4 signature
of AWS_IAM methods and validates the request with the API's model. It then
renders the API's request mapping template, calls the Step Functions action
named in the integration URI, selects the integration response by its
pattern and renders its template; errors get the API's gateway responses.
It adds one rule of its own, :data:`MAX_BODY_DEPTH`, because the emulator
fails on deeper bodies. Otherwise it executes only what was deployed, so a
wrong template or model fails here as on AWS.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from helpers import apidescription, sigv4check, validation, vtl
from helpers.emulator import ACCESS_KEY_ID, ACCOUNT_ID, SECRET_ACCESS_KEY

logger = logging.getLogger("helpers.gateway")

JSON = "application/json"

# How often the gateway queries the emulator for the deployment a stage serves. A
# redeploy takes effect within this time, as on AWS within a few seconds.
STAGE_CHECK_INTERVAL_S = 1.0

# API Gateway ends an integration call after 29 s by default.
INTEGRATION_TIMEOUT_S = 29.0

# The deepest nesting of arrays and objects that the local lab accepts in a
# body. moto's Wait state and the templates' JSON conversion recurse once per
# level, and the GET /events/{id} template failed on data 330 levels deep
# (Python's default recursion limit). AWS documents no such limit.
MAX_BODY_DEPTH = 256

# API Gateway's payload limit for REST APIs (API Gateway quotas: 10 MB).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024

# The JSON 1.0 target prefix of each service an action URI may name.
SERVICE_TARGETS = {"states": "AWSStepFunctions"}

# Status code and x-amzn-ErrorType of each gateway response type this gateway
# produces, from the API Gateway developer guide's list of response types.
RESPONSE_TYPES = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "MissingAuthenticationTokenException"),
    "INVALID_SIGNATURE": (403, "InvalidSignatureException"),
    "BAD_REQUEST_PARAMETERS": (400, "BadRequestException"),
    "BAD_REQUEST_BODY": (400, "BadRequestException"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UnsupportedMediaTypeException"),
    "API_CONFIGURATION_ERROR": (500, "InternalServerErrorException"),
    "INTEGRATION_FAILURE": (504, "InternalServerErrorException"),
    "INTEGRATION_TIMEOUT": (504, "InternalServerErrorException"),
}
DEFAULT_GATEWAY_TEMPLATE = '{"message":$context.error.messageString}'

_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")
_TEMPLATE_VARIABLE = re.compile(r"\$(?:\{(context(?:\.\w+)+)\}|(context(?:\.\w+)+))")


@dataclass
class Response:
    """An HTTP response to write back to the client."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class GatewayError(Exception):
    """A failure that API Gateway reports with one of its gateway responses."""

    def __init__(self, response_type: str, message: str, validation_errors: str = ""):
        super().__init__(message)
        self.response_type = response_type
        self.message = message
        self.validation_errors = validation_errors


@dataclass
class Call:
    """One request on its way through the gateway, with its template variables."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    request_id: str
    received_ms: int
    source_ip: str
    context: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def content_type(self) -> str:
        """The media type without parameters; API Gateway assumes JSON if absent."""
        value = self.header("Content-Type") or JSON
        return value.split(";")[0].strip().lower()


# --- the deployed API, reloaded when the stage serves a new deployment ----------


class ApiCache:
    """The compiled API of each stage, keyed by the deployment the stage serves."""

    def __init__(self, client, rest_api_id: str, interval_s: float):
        self.client = client
        self.rest_api_id = rest_api_id
        self.interval_s = interval_s
        self.lock = threading.Lock()
        self.checked_at = -1e9
        self.deployments: dict[str, str] = {}
        self.apis: dict[str, apidescription.DeployedApi] = {}

    def get(self, stage: str) -> apidescription.DeployedApi | None:
        """Return the stage's API, checking the deployments at most every interval.

        One GetStages call reads every stage, so requests for stages that do
        not exist cost no call of their own and are not remembered.
        """
        with self.lock:
            if time.monotonic() - self.checked_at >= self.interval_s:
                self._read_stages()
            deployment_id = self.deployments.get(stage)
            if deployment_id is None:
                return None
            if deployment_id not in self.apis:
                self.apis[deployment_id] = apidescription.load_api(
                    self.client, self.rest_api_id, deployment_id
                )
            return self.apis[deployment_id]

    def preload(self) -> None:
        """Load every stage's deployment now, before the API can change further.

        NOTE: moto keeps no snapshot of a deployment, so the gateway serves
        the API as it was when it first loaded the deployment. A change made
        between a deployment and that load is served without a redeploy.
        """
        with self.lock:
            self._read_stages()
        for stage in list(self.deployments):
            self.get(stage)

    def _read_stages(self) -> None:
        """Read the deployment of every stage; the caller holds the lock."""
        stages = self.client.get_stages(restApiId=self.rest_api_id)["item"]
        self.deployments = {
            item["stageName"]: item["deploymentId"]
            for item in stages
            if item.get("deploymentId")
        }
        self.checked_at = time.monotonic()


# --- the gateway's request pipeline ----------------------------------------------


class Gateway:
    """Execute requests against one REST API whose integrations call the emulator."""

    def __init__(self, emulator_url: str, rest_api_id: str, region: str):
        self.emulator_url = emulator_url
        self.rest_api_id = rest_api_id
        self.region = region
        self.secret_keys = {ACCESS_KEY_ID: SECRET_ACCESS_KEY}
        client = boto3.client(
            "apigateway",
            endpoint_url=emulator_url,
            region_name=region,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        self.cache = ApiCache(client, rest_api_id, STAGE_CHECK_INTERVAL_S)
        self.http = urllib3.PoolManager(maxsize=32, retries=False)

    def handle(self, call: Call, host: str) -> Response:
        """Handle one request; every failure becomes the API's gateway response."""
        api = None
        try:
            stage, _, resource_path = call.path.lstrip("/").partition("/")
            api = self.cache.get(stage) if stage else None
            if api is None:
                raise GatewayError(
                    "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
                )
            return self.execute(api, stage, "/" + resource_path, call, host)
        except GatewayError as error:
            return gateway_response(api, call, error)
        except Exception:
            logger.exception("request %s failed inside the gateway", call.request_id)
            error = GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
            return gateway_response(api, call, error)

    def execute(
        self, api: apidescription.DeployedApi, stage: str, path: str, call, host: str
    ) -> Response:
        method, path_parameters = _find_method(api, path.rstrip("/") or "/", call)
        call.context = _context(call, api, stage, method, host)
        if method.authorization_type == "AWS_IAM":
            self.authenticate(call, host)
        parameters = _parameters(call, path_parameters)
        _validate_request(api, method, call, parameters)
        if method.integration is None:
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        return self.integrate(method.integration, call, parameters)

    def authenticate(self, call: Call, host: str) -> None:
        request = sigv4check.SignedRequest(
            method=call.method,
            url=f"http://{host}{call.target}",
            headers=call.headers,
            body=call.body,
        )
        try:
            key = sigv4check.verify_signature(request, self.secret_keys, self.region)
        except sigv4check.SignatureRejected as rejected:
            raise GatewayError(rejected.response_type, rejected.message) from None
        call.context["identity"].update(
            {"accessKey": key, "caller": key, "user": key, "accountId": ACCOUNT_ID}
        )

    def integrate(self, integration, call: Call, parameters: dict) -> Response:
        """Render the request, call the action, render the selected response."""
        request_text = _render_request(integration, call, parameters)
        status, response_text = self.call_action(integration, request_text, call)
        if status >= 500:
            logger.error(
                "request %s: %s %s answered %d: %s", call.request_id,
                integration.service, integration.action, status, response_text[:500],
            )  # fmt: skip
        selected = integration.select_response(status)
        if selected is None:
            logger.error(
                "request %s: no integration response matches status %d and none "
                "is the default", call.request_id, status,
            )  # fmt: skip
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        return _render_response(selected, call, response_text)

    def call_action(self, integration, request_text: str, call: Call) -> tuple:
        """POST the rendered JSON to the service action on the emulator."""
        target = SERVICE_TARGETS.get(integration.service)
        if target is None:
            logger.error(
                "request %s: the local gateway cannot call service %r",
                call.request_id, integration.service,
            )  # fmt: skip
            raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error")
        headers = self.signed_headers(integration, target, request_text)
        try:
            reply = self.http.request(
                "POST", self.emulator_url + "/", body=request_text.encode("utf-8"),
                headers=headers, timeout=INTEGRATION_TIMEOUT_S,
            )  # fmt: skip
        except urllib3.exceptions.TimeoutError:
            raise GatewayError(
                "INTEGRATION_TIMEOUT", "Endpoint request timed out"
            ) from None
        except urllib3.exceptions.HTTPError as error:
            logger.error(
                "request %s: calling the emulator failed: %s", call.request_id, error
            )
            raise GatewayError("INTEGRATION_FAILURE", "Internal server error") from None
        return reply.status, reply.data.decode("utf-8")

    def signed_headers(self, integration, target: str, request_text: str) -> dict:
        """Sign the service call with the lab's key pair in place of the API's role."""
        request = AWSRequest(
            method="POST",
            url=self.emulator_url + "/",
            data=request_text.encode("utf-8"),
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"{target}.{integration.action}",
            },
        )
        credentials = Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        SigV4Auth(credentials, integration.service, integration.region).add_auth(
            request
        )
        return dict(request.headers.items())


def _find_method(api, path: str, call: Call):
    found = api.find(path)
    if found is None:
        raise GatewayError(
            "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
        )
    route, raw_parameters = found
    method = route.methods.get(call.method) or route.methods.get("ANY")
    if method is None:
        raise GatewayError(
            "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
        )
    return method, {name: unquote(value) for name, value in raw_parameters.items()}


def _parameters(call: Call, path_parameters: dict[str, str]) -> dict:
    return {
        "path": path_parameters,
        "querystring": dict(call.query),
        "header": dict(call.headers),
    }


def _context(call: Call, api, stage: str, method, host: str) -> dict[str, Any]:
    """Build ``$context`` for the templates: ids, times, stage and the caller."""
    received = datetime.fromtimestamp(call.received_ms / 1000, UTC)
    return {
        "requestId": call.request_id,
        "extendedRequestId": call.request_id,
        "requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": call.received_ms,
        "stage": stage,
        "httpMethod": method.http_method,
        "resourcePath": method.resource_path,
        "resourceId": method.resource_id,
        "path": call.path,
        "apiId": api.rest_api_id,
        "accountId": ACCOUNT_ID,
        "domainName": host.split(":")[0],
        "protocol": "HTTP/1.1",
        "identity": {
            "sourceIp": call.source_ip,
            "userAgent": call.header("User-Agent"),
        },
        "error": {"message": "", "messageString": '""', "validationErrorString": ""},
        "responseOverride": {"status": None, "header": {}},
    }


# --- method request validation ----------------------------------------------------


def _validate_request(api, method, call: Call, parameters: dict) -> None:
    if method.validate_parameters:
        missing = _missing_parameters(method.required_parameters, parameters)
        if missing:
            raise GatewayError(
                "BAD_REQUEST_PARAMETERS",
                f"Missing required request parameters: [{', '.join(missing)}]",
            )
    model_name = method.request_models.get(call.content_type)
    if method.validate_body and model_name and model_name != "Empty":
        errors = _body_errors(api.validators[model_name], call.body)
        if errors:
            validation = "[" + ", ".join(errors) + "]"
            raise GatewayError("BAD_REQUEST_BODY", "Invalid request body", validation)


def _missing_parameters(required: list[str], parameters: dict) -> list[str]:
    """Return the names of required ``path.x``, ``querystring.x``, ``header.x``."""
    missing = []
    for qualified in required:
        kind, _, name = qualified.partition(".")
        values = parameters.get(kind, {})
        if kind == "header":
            values = {key.lower(): value for key, value in values.items()}
            name = name.lower()
        if not values.get(name):
            missing.append(qualified.partition(".")[2])
    return missing


def _body_errors(validator, body: bytes) -> list[str]:
    """Validate the body with the model; an empty body is validated as ``{}``.

    NOTE: AWS does not document how it validates an empty body. The request
    template also rejects a missing dueDate, in case AWS lets one through.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return [f"/: the body is not valid UTF-8: {error} (json)"]
    depth = json_depth(text)
    if depth > MAX_BODY_DEPTH:
        return [
            f"/: the body nests {depth} levels deep, more than the {MAX_BODY_DEPTH} "
            "the local lab handles (maxDepth)"
        ]
    try:
        document = (
            json.loads(text, parse_constant=_reject_constant) if text.strip() else {}
        )
    except ValueError as error:
        if "integer string conversion" in str(error):
            # Python refuses to parse integers of more than 4,300 digits.
            return [
                "/: the body has an integer of more than 4,300 digits, more than "
                "the local lab parses (maxDigits)"
            ]
        return [f"/: the body is not valid JSON: {error} (json)"]
    if not validation.encodes_as_utf8(document):
        return [
            "/: the body has a lone UTF-16 surrogate escape such as \\ud800, which "
            "is not a Unicode character (json)"
        ]
    return apidescription.describe_schema_errors(validator, document)


def _reject_constant(name: str) -> Any:
    """Reject NaN and the infinities, which Python's json accepts and JSON forbids."""
    raise ValueError(f"{name} is not a JSON value")


def json_depth(text: str) -> int:
    """Return how deeply arrays and objects nest in JSON text, without parsing it.

    Brackets inside strings do not count. Malformed text gets a depth too, and
    the parser then reports what is wrong with it.
    """
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


# --- mapping templates ---------------------------------------------------------------


def _pick_template(templates: dict, content_type: str):
    if content_type in templates:
        return templates[content_type]
    return templates.get(JSON) or next(iter(templates.values()), None)


def _namespace(call: Call, body: str, parameters: dict) -> dict[str, Any]:
    return {
        "input": vtl.Input(body, parameters),
        "util": vtl.Util(),
        "context": vtl.to_java(call.context),
        "stageVariables": vtl.JavaMap(),
    }


def _render_request(integration, call: Call, parameters: dict) -> str:
    """Render the request template chosen by the request's content type."""
    template = integration.request_templates.get(call.content_type)
    body = call.body.decode("utf-8", errors="replace")
    if template is None:
        behaviour = integration.passthrough_behavior
        has_templates = bool(integration.request_templates)
        if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and has_templates):
            raise GatewayError("UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type")
        return body
    namespace = _namespace(call, body, parameters)
    try:
        rendered = vtl.render(template, namespace)
    except vtl.TemplateError as error:
        logger.error("request %s: %s", call.request_id, error)
        raise GatewayError("API_CONFIGURATION_ERROR", "Internal server error") from None
    call.context = namespace["context"]
    return rendered


def _render_response(selected, call: Call, response_text: str) -> Response:
    """Render the integration response; honour $context.responseOverride."""
    template = _pick_template(selected.templates, (call.header("Accept") or JSON))
    body, content_type = response_text, JSON
    if template is not None:
        namespace = _namespace(call, response_text, {})
        try:
            body = vtl.render(template, namespace)
        except vtl.TemplateError as error:
            logger.error("request %s: %s", call.request_id, error)
            raise GatewayError(
                "API_CONFIGURATION_ERROR", "Internal server error"
            ) from None
        call.context = namespace["context"]
        content_type = next(k for k, v in selected.templates.items() if v is template)
    override = call.context["responseOverride"]
    status = int(override["status"] or selected.status_code)
    headers = {
        "Content-Type": content_type,
        **{k: str(v) for k, v in override["header"].items()},
    }
    return Response(status, body.encode("utf-8"), headers)


# --- gateway responses --------------------------------------------------------------


def gateway_response(api, call: Call, error: GatewayError) -> Response:
    """Render the API's gateway response for ``error``, or API Gateway's default.

    Gateway response templates are not Velocity: API Gateway substitutes
    ``$context`` variables and nothing else.
    """
    default_status, error_type = RESPONSE_TYPES.get(error.response_type, (500, ""))
    configured = _configured_response(api, error.response_type, default_status)
    status = (
        int(configured.status_code or default_status) if configured else default_status
    )
    templates = configured.templates if configured and configured.templates else {}
    template = _pick_template(templates, JSON) or DEFAULT_GATEWAY_TEMPLATE
    context = call.context or {"requestId": call.request_id}
    context["error"] = {
        "message": error.message,
        "messageString": json.dumps(error.message),
        "responseType": error.response_type,
        # API Gateway escapes this string for use inside a JSON string.
        "validationErrorString": json.dumps(error.validation_errors)[1:-1],
    }
    body = _substitute(template, context)
    headers = {"Content-Type": JSON, "x-amzn-ErrorType": error_type}
    return Response(status, body.encode("utf-8"), headers)


def _configured_response(api, response_type: str, default_status: int):
    if api is None:
        return None
    family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
    return api.gateway_responses.get(response_type) or api.gateway_responses.get(family)


def _substitute(template: str, context: dict) -> str:
    def value_of(match: re.Match) -> str:
        value: Any = {"context": context}
        for name in (match.group(1) or match.group(2)).split("."):
            value = value.get(name) if isinstance(value, dict) else None
        return "" if value is None else vtl.java_string(value)

    return _TEMPLATE_VARIABLE.sub(value_of, template)


# --- the HTTP server -----------------------------------------------------------------


class GatewayHandler(BaseHTTPRequestHandler):
    """Hand each HTTP request to the gateway and write its response."""

    protocol_version = "HTTP/1.1"
    # The response to a malformed request line is HTTP/1.1, with a status line,
    # not HTTP/0.9, which has none.
    default_request_version = "HTTP/1.1"
    # Seconds a connection may stay silent, waiting for a request or a body.
    timeout = 60
    # Headers and body go out in separate writes; with Nagle's algorithm the
    # body of a keep-alive response waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: GatewayServer

    def do_request(self) -> None:
        started = time.perf_counter()
        try:
            split = urlsplit(self.path)
            body = _read_body(self.headers, self.rfile)
        except ValueError as error:
            # FramingError, or a request target that urlsplit cannot parse.
            status = error.status if isinstance(error, FramingError) else 400
            logger.warning("%s %r rejected: %s", self.command, self.path, error)
            self._send_error_quietly(status, str(error))
            return
        except TimeoutError:
            logger.warning(
                "%s %r: the client sent no body in time", self.command, self.path
            )
            self.close_connection = True
            return
        call = Call(
            method=self.command,
            target=_origin_form(split),
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=_headers(self),
            body=body,
            request_id=str(uuid.uuid4()),
            received_ms=time.time_ns() // 1_000_000,
            source_ip=self.client_address[0],
        )
        response = self.server.gateway.handle(call, self.headers.get("Host", ""))
        try:
            self._write(response, call.request_id)
        except (BrokenPipeError, ConnectionResetError):
            logger.info(
                "request %s: the client left before the response", call.request_id
            )
            self.close_connection = True
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %d %.1f ms request %s",
            self.command, split.path, response.status, elapsed_ms, call.request_id,
        )  # fmt: skip

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_request

    def _send_error_quietly(self, status: int, message: str) -> None:
        try:
            self.send_error(status, message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Send an error response in JSON, as API Gateway does; close the connection.

        http.server calls this for a malformed request line or headers, and
        do_request for a malformed body.
        """
        text = message or self.responses.get(code, ("Bad Request",))[0]
        body = json.dumps({"message": text}).encode("utf-8")
        self.close_connection = True
        self.send_response(code, text)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)

    def _write(self, response: Response, request_id: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr log; do_request logs each request."""


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    """Join repeated headers with commas, as SigV4 canonicalisation expects."""
    headers: dict[str, str] = {}
    for name in handler.headers.keys():
        headers.setdefault(name, ",".join(handler.headers.get_all(name)))
    return headers


class FramingError(ValueError):
    """The request body cannot be read as its headers describe it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _read_body(headers, stream) -> bytes:
    """Read the whole body, or raise FramingError before any of it is used.

    A body shorter than its Content-Length means the client gave up, so the
    request must not run: a client that retries would start it twice. Headers
    that frame the body ambiguously are rejected, because the bytes left
    unread would be taken for the next request on the connection.
    """
    if any(name != name.strip() for name in headers.keys()):
        raise FramingError(400, "a header name has white space around it")
    codings = [v.strip().lower() for v in headers.get_all("Transfer-Encoding", [])]
    lengths = {v.strip() for v in headers.get_all("Content-Length", [])}
    if codings and lengths:
        raise FramingError(400, "both Transfer-Encoding and Content-Length are set")
    if codings:
        if codings != ["chunked"]:
            raise FramingError(501, f"unsupported Transfer-Encoding {codings!r}")
        return _read_chunked(stream)
    if len(lengths) > 1:
        raise FramingError(400, f"conflicting Content-Length values {sorted(lengths)}")
    text = lengths.pop() if lengths else "0"
    if not _DECIMAL.fullmatch(text):
        raise FramingError(400, f"invalid Content-Length {text!r}")
    if len(text) > len(str(MAX_PAYLOAD_BYTES)):
        raise FramingError(413, f"request body exceeds {MAX_PAYLOAD_BYTES} bytes")
    length = int(text)
    if length > MAX_PAYLOAD_BYTES:
        raise FramingError(413, f"request body exceeds {MAX_PAYLOAD_BYTES} bytes")
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise FramingError(
            400, f"request body ended after {len(body)} of {length} bytes"
        )
    return body


def _read_chunked(stream) -> bytes:
    chunks, total = [], 0
    while True:
        line = stream.readline().split(b";")[0].strip()
        if not _HEX.fullmatch(line):
            raise FramingError(400, f"invalid chunk size {line!r}")
        if len(line) > len(f"{MAX_PAYLOAD_BYTES:x}"):
            raise FramingError(413, f"request body exceeds {MAX_PAYLOAD_BYTES} bytes")
        size = int(line, 16)
        if size == 0:
            _skip_trailers(stream)
            return b"".join(chunks)
        total += size
        if total > MAX_PAYLOAD_BYTES:
            raise FramingError(413, f"request body exceeds {MAX_PAYLOAD_BYTES} bytes")
        chunk = stream.read(size)
        if len(chunk) < size:
            raise FramingError(400, "request body ended inside a chunk")
        chunks.append(chunk)
        stream.readline()


def _skip_trailers(stream) -> None:
    """Read the trailer fields after the last chunk, up to the empty line."""
    while stream.readline() not in (b"\r\n", b"\n", b""):
        pass


def _origin_form(split) -> str:
    """Return the path and query of a request target, also of an absolute URL.

    HTTP/1.1 servers must accept ``POST http://host/v1/events``, and SigV4
    signs only the path and query.
    """
    return split.path + (f"?{split.query}" if split.query else "")


class GatewayServer(ThreadingHTTPServer):
    """A threaded HTTP server on 127.0.0.1 that owns one Gateway."""

    daemon_threads = True
    # Batches open hundreds of connections at once; the default backlog is 5.
    request_queue_size = 1024

    def __init__(self, gateway: Gateway, port: int = 0):
        super().__init__(("127.0.0.1", port), GatewayHandler)
        self.gateway = gateway


def _write_ready_file(path: Path, port: int) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({"port": port, "pid": os.getpid()}))
    partial.replace(path)


def _stop_on_sigterm(server: GatewayServer) -> None:
    def stop(signum: int, frame: Any) -> None:
        logger.info("received signal %d, stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True, help="URL of the emulator")
    parser.add_argument("--rest-api-id", required=True, help="REST API to serve")
    parser.add_argument("--region", required=True, help="region of the REST API")
    parser.add_argument(
        "--ready-file", type=Path, required=True,
        help="file to write the listening port and process id to",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip

    gateway = Gateway(args.emulator, args.rest_api_id, args.region)
    try:
        gateway.cache.preload()
    except ClientError as error:
        logger.warning("loading REST API %s failed: %s", args.rest_api_id, error)
    server = GatewayServer(gateway)
    _stop_on_sigterm(server)
    port = server.server_address[1]
    _write_ready_file(args.ready_file, port)
    logger.info(
        "serving REST API %s at http://127.0.0.1:%d (emulator %s, region %s)",
        args.rest_api_id, port, args.emulator, args.region,
    )  # fmt: skip
    server.serve_forever()
    server.server_close()
    logger.info("stopped serving REST API %s", args.rest_api_id)


if __name__ == "__main__":
    main()
