"""The REST API over real HTTP on the local gateway: auth, validation, idempotency."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders

from helpers import signing
from helpers.events import fire_event, make_endpoint, post_event
from helpers.validation import CANONICAL_FORMAT

FORBIDDEN_ID_CHARACTERS = list('<>{}[]?*"#%\\^|~`$&,;:/')


def _due_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime(CANONICAL_FORMAT)


def _execution_names(target, stack) -> list[str]:
    client = target.client("stepfunctions")
    pages = client.get_paginator("list_executions").paginate(
        stateMachineArn=stack.state_machine_arn
    )
    return [e["name"] for page in pages for e in page["executions"]]


def _body(**fields) -> str:
    return json.dumps(fields)


@pytest.fixture(scope="module")
def endpoint(target, stack):
    return make_endpoint(target, stack)


@pytest.fixture(scope="module")
def earlier_event(endpoint):
    """An event fired before the bad requests, which they must leave untouched."""
    return fire_event(
        endpoint, _due_in(3600), {"keep": "me"}, f"earlier-{uuid.uuid4()}"
    )


# --- bad input: 400 naming the field and rule, no execution started ----------------

LATER = _due_in(3600)
TOO_FAR = _due_in(366 * 86400)
BIG_DATA = "€" * 90_000  # 270,000 bytes of UTF-8 in 90,000 characters
NESTED_300 = json.loads("[" * 300 + "]" * 300)

BAD_BODIES = {
    "due date missing": (_body(data={}), "dueDate", "required"),
    "due date null": (_body(dueDate=None), "dueDate", "type"),
    "due date number": (_body(dueDate=1788000000), "dueDate", "type"),
    "offset timestamp": (_body(dueDate=LATER[:-1] + "+00:00"), "dueDate", "pattern"),
    "lowercase z": (_body(dueDate=LATER[:-1] + "z"), "dueDate", "pattern"),
    "lowercase t": (_body(dueDate=LATER.replace("T", "t")), "dueDate", "pattern"),
    "no seconds": (_body(dueDate=LATER[:16] + "Z"), "dueDate", "pattern"),
    "trailing newline": (_body(dueDate=LATER + "\n"), "dueDate", "pattern"),
    "over 365 days": (_body(dueDate=TOO_FAR), "dueDate", "maxDaysAhead"),
    "february 30": (_body(dueDate="2027-02-30T00:00:00Z"), "dueDate", "calendarDate"),
    "empty body": ("", "dueDate", "required"),
    "non-JSON body": ("dueDate=tomorrow", "body", "json"),
    "JSON array": (json.dumps([LATER]), "/", "type"),
    "JSON string": (json.dumps(LATER), "/", "type"),
    "unknown field": (_body(dueDate=LATER, when="now"), "when", "additionalProperties"),
    "id over 80": (_body(dueDate=LATER, id="x" * 81), "id", "maxLength"),
    "id empty": (_body(dueDate=LATER, id=""), "id", "minLength"),
    "id space": (_body(dueDate=LATER, id="a b"), "id", "pattern"),
    "id tab": (_body(dueDate=LATER, id="a\tb"), "id", "pattern"),
    "id newline": (_body(dueDate=LATER, id="a\nb"), "id", "pattern"),
    "id U+0001": (_body(dueDate=LATER, id="a\x01b"), "id", "pattern"),
    "id U+007F": (_body(dueDate=LATER, id="a\x7fb"), "id", "pattern"),
    "id U+0085": (_body(dueDate=LATER, id="a\x85b"), "id", "pattern"),
    "id not a string": (_body(dueDate=LATER, id=5), "id", "type"),
    "input over 256 KiB": (_body(dueDate=LATER, data=BIG_DATA), "data", "bytes"),
    "year 0000": (_body(dueDate="0000-01-01T00:00:00Z"), "dueDate", "calendarDate"),
    "id dot": (_body(dueDate=LATER, id="."), "id", "pattern"),
    "id dot dot": (_body(dueDate=LATER, id=".."), "id", "pattern"),
    "id U+FEFF": (_body(dueDate=LATER, id="a\ufeffb"), "id", "pattern"),
    # json.dumps writes NaN and -Infinity, which JSON does not allow.
    "data NaN": (_body(dueDate=LATER, data=float("nan")), "/", "json"),
    "data Infinity": (_body(dueDate=LATER, data=float("-inf")), "/", "json"),
    "data nested 300 deep": (_body(dueDate=LATER, data=NESTED_300), "/", "maxDepth"),
    "id lone surrogate": (
        _body(dueDate=LATER, id="a\ud800"),
        "/",
        "surrogate",
    ),
    "data 4301 digits": (
        '{"dueDate": "' + LATER + '", "data": ' + "9" * 4301 + "}",
        "/",
        "maxDigits",
    ),
}
for character in FORBIDDEN_ID_CHARACTERS:
    BAD_BODIES[f"id with {character}"] = (
        _body(dueDate=LATER, id=f"a{character}b"),
        "id",
        "pattern",
    )


@pytest.mark.parametrize(("body", "field", "rule"), BAD_BODIES.values(), ids=BAD_BODIES)
def test_post_rejects_bad_body_with_400(endpoint, body, field, rule):
    response = post_event(endpoint, body)

    assert response.status_code == 400
    answer = response.json()
    text = json.dumps(answer)
    assert field in text, text
    assert rule in text, text


@pytest.mark.parametrize(("body", "field", "rule"), BAD_BODIES.values(), ids=BAD_BODIES)
def test_post_bad_body_starts_no_execution(
    endpoint, target, stack, earlier_event, body, field, rule
):
    before = _execution_names(target, stack)

    post_event(endpoint, body)

    assert sorted(_execution_names(target, stack)) == sorted(before)


def test_post_bad_bodies_leave_earlier_event_untouched(endpoint, target, earlier_event):
    for body, _, _ in BAD_BODIES.values():
        post_event(endpoint, body)

    described = target.client("stepfunctions").describe_execution(
        executionArn=earlier_event.execution_arn
    )
    assert described["status"] == "RUNNING"
    assert json.loads(described["input"])["data"] == {"keep": "me"}


def test_post_rejects_plain_text_content_type(endpoint):
    response = endpoint.session.post(
        endpoint.events_url,
        data=_body(dueDate=LATER),
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 415


def test_post_rejects_invalid_utf8_body(endpoint, target, stack):
    before = _execution_names(target, stack)
    body = _body(dueDate=LATER, data="a").encode()[:-2] + b'\xff"}'

    response = endpoint.session.post(endpoint.events_url, data=body)

    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["errors"]
    assert sorted(_execution_names(target, stack)) == sorted(before)


def test_post_accepts_data_nested_256_deep(endpoint, target, event_id):
    data = json.loads("[" * 255 + "]" * 255)
    body = json.dumps({"dueDate": LATER, "data": data, "id": event_id})

    response = post_event(endpoint, body)

    assert response.status_code == 200
    assert endpoint.session.get(f"{endpoint.events_url}/{event_id}").status_code == 200


# --- HTTP framing: the body is read whole or the request is not run ----------------


def _raw_request(url: str, head: str, body: bytes = b"", timeout_s: float = 5.0):
    """Send raw bytes to the gateway; return the response bytes, b"" if none."""
    split = urlsplit(url)
    with socket.create_connection((split.hostname, split.port), timeout_s) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _signed_head(target, stack, body: str, **extra: str) -> str:
    headers = _signed_headers(target, stack.events_url, body)
    headers.update(extra)
    lines = [f"POST {urlsplit(stack.events_url).path} HTTP/1.1"]
    lines.append(f"Host: {urlsplit(stack.events_url).netloc}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return "\r\n".join(lines)


def test_short_body_starts_no_execution(target, stack, event_id):
    body = _body(dueDate=_due_in(3600), id=event_id)
    head = _signed_head(target, stack, body, **{"Content-Length": str(len(body) + 10)})

    _raw_request(stack.events_url, head, body.encode())

    assert event_id not in _execution_names(target, stack)


def test_invalid_content_length_is_json_400(target, stack):
    body = _body(dueDate=_due_in(3600))
    head = _signed_head(target, stack, body, **{"Content-Length": "abc"})

    answer = _raw_request(stack.events_url, head, body.encode())

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 400")
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["message"]


def test_body_over_10_mib_is_413(target, stack):
    head = _signed_head(
        target, stack, "", **{"Content-Length": str(10 * 1024 * 1024 + 1)}
    )

    answer = _raw_request(stack.events_url, head)

    assert answer.startswith(b"HTTP/1.1 413")


def _status_line(answer: bytes) -> bytes:
    return answer.partition(b"\r\n")[0]


@pytest.mark.parametrize(
    ("content_length", "status"),
    [("\u00b2", b"400"), ("1\u00b3", b"400"), ("0" * 4300 + "2", b"413")],
    ids=["superscript two", "digit and superscript", "4301 digits"],
)
def test_odd_content_length_is_rejected(target, stack, content_length, status):
    body = _body(dueDate=_due_in(3600))
    head = _signed_head(target, stack, body, **{"Content-Length": content_length})

    answer = _raw_request(stack.events_url, head, body.encode())

    assert _status_line(answer).startswith(b"HTTP/1.1 " + status)


def test_conflicting_content_lengths_are_400(target, stack):
    body = _body(dueDate=_due_in(3600))
    head = _signed_head(target, stack, body, **{"Content-Length": str(len(body))})
    head += "\r\nContent-Length: 5"

    answer = _raw_request(stack.events_url, head, body.encode())

    assert _status_line(answer).startswith(b"HTTP/1.1 400")


def test_unknown_transfer_coding_is_501(target, stack):
    head = _signed_head(target, stack, "", **{"Transfer-Encoding": "gzip, chunked"})

    answer = _raw_request(stack.events_url, head, b"0\r\n\r\n")

    assert _status_line(answer).startswith(b"HTTP/1.1 501")


@pytest.mark.parametrize("size", ["0x3a", "3_a", "-1"])
def test_invalid_chunk_size_is_400(target, stack, event_id, size):
    head = _signed_head(target, stack, "", **{"Transfer-Encoding": "chunked"})
    body = _body(dueDate=_due_in(3600), id=event_id).encode()

    answer = _raw_request(stack.events_url, head, size.encode() + b"\r\n" + body)

    assert _status_line(answer).startswith(b"HTTP/1.1 400")
    assert event_id not in _execution_names(target, stack)


def test_chunk_trailers_do_not_spill_into_next_request(stack):
    path = urlsplit(stack.events_url).path
    host = urlsplit(stack.events_url).netloc
    first = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked"
    trailers = b"0\r\nX-One: a\r\nX-Two: b\r\n\r\n"
    second = f"GET {path}/x HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"

    answer = _raw_request(stack.events_url, first, trailers + second.encode())

    assert answer.count(b"HTTP/1.1 403") == 2


def test_malformed_request_line_gets_status_line(stack):
    path = urlsplit(stack.events_url).path
    head = f"GET {path}/x HTTP/2.0\r\nHost: x"

    answer = _raw_request(stack.events_url, head)

    assert _status_line(answer).startswith(b"HTTP/1.1 ")
    assert b'"message"' in answer


def test_unparsable_request_target_is_400(stack):
    answer = _raw_request(stack.events_url, "GET http://[ HTTP/1.1\r\nHost: x")

    assert _status_line(answer).startswith(b"HTTP/1.1 400")


def test_absolute_form_target_is_accepted(target, stack, event_id):
    body = _body(dueDate=_due_in(3600), id=event_id)
    head = _signed_head(target, stack, body, **{"Content-Length": str(len(body))})
    head = head.replace(
        f"POST {urlsplit(stack.events_url).path} ", f"POST {stack.events_url} "
    )

    answer = _raw_request(stack.events_url, head, body.encode())

    assert _status_line(answer).startswith(b"HTTP/1.1 200")
    assert event_id in _execution_names(target, stack)


def test_unparsable_host_with_made_up_signature_is_403(stack):
    today = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    scope = f"AKIALOCALLAB00000000/{today[:8]}/us-east-1/execute-api/aws4_request"
    head = "\r\n".join(
        [
            f"GET {urlsplit(stack.events_url).path}/x HTTP/1.1",
            "Host: [",
            f"X-Amz-Date: {today}",
            f"Authorization: AWS4-HMAC-SHA256 Credential={scope}, "
            f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        ]
    )

    answer = _raw_request(stack.events_url, head)

    assert _status_line(answer).startswith(b"HTTP/1.1 403")


def test_uri_too_long_answers_json(stack):
    response = requests.get(stack.events_url + "/" + "a" * 70_000)

    assert response.status_code == 414
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"]


# --- accepted with a note ----------------------------------------------------------


def test_post_accepts_fractional_seconds(endpoint, target, event_id):
    due = _due_in(3600)[:-1] + ".375Z"

    response = post_event(endpoint, _body(dueDate=due, id=event_id))

    assert response.status_code == 200
    assert response.json()["id"] == event_id


def test_post_past_due_date_fires_at_once(endpoint, target, event_id):
    response = post_event(endpoint, _body(dueDate=_due_in(-60), id=event_id))
    arn = response.json()["executionArn"]

    client = target.client("stepfunctions")
    deadline = time.monotonic() + 30
    while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the past-due event did not fire in 30 s"
        time.sleep(0.2)
    assert client.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"


def test_post_without_id_names_event_after_request_id(endpoint):
    response = post_event(endpoint, _body(dueDate=_due_in(3600)))

    event_id = response.json()["id"]
    assert uuid.UUID(event_id).version == 4
    assert response.headers["x-amzn-RequestId"] == event_id


# --- data round trip ---------------------------------------------------------------

ROUND_TRIP_DATA = {
    "quotes": "say \"hi\" and 'bye'",
    "backslashes": "C:\\temp\\new \\u0041",
    "whitespace": "line1\nline2\r\n\ttabbed",
    "slash": "</script>",
    "non_ascii": "café Ελληνικά 日本語",
    "emoji": "🎉👩‍💻",
    "control": "\x00\x01\x1f\x7f",
    "nested": {"list": [1, [2, {"three": None}], True, False], "empty": {}},
    "numbers": [0, -1, 2**53, 3.25, -0.5, 1e-7, 6.02e23],
}


def test_post_round_trips_data_into_execution_input(endpoint, target, event_id):
    body = json.dumps(
        {"dueDate": _due_in(3600), "data": ROUND_TRIP_DATA, "id": event_id}
    )

    arn = post_event(endpoint, body).json()["executionArn"]

    described = target.client("stepfunctions").describe_execution(executionArn=arn)
    assert described["input"] == body
    assert json.loads(described["input"])["data"] == ROUND_TRIP_DATA


def test_get_returns_event_fields_and_status(endpoint, event_id):
    due = _due_in(3600)
    post_event(endpoint, _body(dueDate=due, data=ROUND_TRIP_DATA, id=event_id))

    answer = endpoint.session.get(f"{endpoint.events_url}/{event_id}").json()

    assert answer["id"] == event_id
    assert answer["status"] == "RUNNING"
    assert answer["dueDate"] == due
    assert answer["data"] == ROUND_TRIP_DATA


# --- idempotency and unknown ids ---------------------------------------------------


def test_post_same_id_and_body_returns_same_execution(
    endpoint, target, stack, event_id
):
    body = _body(dueDate=_due_in(3600), data={"n": 1}, id=event_id)

    first = post_event(endpoint, body)
    second = post_event(endpoint, body)

    assert first.status_code == second.status_code == 200
    assert first.json()["executionArn"] == second.json()["executionArn"]
    assert _execution_names(target, stack).count(event_id) == 1


def test_post_same_id_other_body_conflicts(endpoint, event_id):
    due = _due_in(3600)
    post_event(endpoint, _body(dueDate=due, data={"n": 1}, id=event_id))

    response = post_event(endpoint, _body(dueDate=due, data={"n": 2}, id=event_id))

    assert response.status_code == 409
    assert response.json()["field"] == "id"


def test_get_unknown_id_is_404(endpoint):
    response = endpoint.session.get(f"{endpoint.events_url}/no-such-{uuid.uuid4()}")

    assert response.status_code == 404


def test_delete_unknown_id_is_404(endpoint):
    response = endpoint.session.delete(f"{endpoint.events_url}/no-such-{uuid.uuid4()}")

    assert response.status_code == 404


def test_get_id_with_forbidden_character_is_404(endpoint):
    response = endpoint.session.get(f"{endpoint.events_url}/a%20b")

    assert response.status_code == 404


def test_unknown_path_is_403_missing_token(endpoint):
    response = endpoint.session.get(f"{endpoint.url}/nothing-here")

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


# --- SigV4 -------------------------------------------------------------------------


def _signed_headers(target, url: str, body: str, credentials=None) -> dict:
    return signing.sign_headers(
        credentials or target.credentials(), target.region, "POST", url, body,
        {"Content-Type": "application/json"},
    )  # fmt: skip


def test_signed_request_succeeds(target, stack, event_id):
    body = _body(dueDate=_due_in(3600), id=event_id)
    headers = _signed_headers(target, stack.events_url, body)

    response = requests.post(stack.events_url, data=body, headers=headers)

    assert response.status_code == 200


def test_unsigned_request_is_403(stack):
    response = requests.post(stack.events_url, data=_body(dueDate=_due_in(3600)))

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_bad_signature_is_403(target, stack):
    body = _body(dueDate=_due_in(3600))
    headers = _signed_headers(target, stack.events_url, body)
    headers["Authorization"] = re.sub(
        r"Signature=\w+", "Signature=" + "0" * 64, headers["Authorization"]
    )

    response = requests.post(stack.events_url, data=body, headers=headers)

    assert response.status_code == 403
    assert "signature we calculated does not match" in response.json()["message"]


def test_tampered_body_is_403(target, stack):
    body = _body(dueDate=_due_in(3600))
    headers = _signed_headers(target, stack.events_url, body)

    response = requests.post(stack.events_url, data=body + " ", headers=headers)

    assert response.status_code == 403


def test_unknown_access_key_is_403(target, stack):
    from botocore.credentials import ReadOnlyCredentials

    stranger = ReadOnlyCredentials("AKIASTRANGER00000000", "wrong-secret", None)
    body = _body(dueDate=_due_in(3600))
    headers = _signed_headers(target, stack.events_url, body, stranger)

    response = requests.post(stack.events_url, data=body, headers=headers)

    assert response.status_code == 403
    assert "security token" in response.json()["message"]


def test_session_token_with_long_term_key_is_403(target, stack, event_id):
    from botocore.credentials import ReadOnlyCredentials

    own = target.credentials()
    with_token = ReadOnlyCredentials(own.access_key, own.secret_key, "made-up-token")
    body = _body(dueDate=_due_in(3600), id=event_id)
    headers = _signed_headers(target, stack.events_url, body, with_token)

    response = requests.post(stack.events_url, data=body, headers=headers)

    assert response.status_code == 403
    assert "security token" in response.json()["message"]
    assert event_id not in _execution_names(target, stack)


def test_signed_user_agent_header_is_accepted(target, stack, event_id):
    body = _body(dueDate=_due_in(3600), id=event_id)
    request = AWSRequest(
        method="POST",
        url=stack.events_url,
        data=body.encode(),
        headers={"Content-Type": "application/json", "User-Agent": "lab-test/1.0"},
    )
    _SignEveryHeader(target.credentials(), "execute-api", target.region).add_auth(
        request
    )
    assert "user-agent" in request.headers["Authorization"]

    response = requests.post(stack.events_url, data=body, headers=dict(request.headers))

    assert response.status_code == 200


class _SignEveryHeader(SigV4Auth):
    """A client that signs every header it sends; botocore never signs User-Agent."""

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        headers["host"] = urlsplit(request.url).netloc
        return headers


def test_signature_older_than_5_minutes_is_403(target, stack, monkeypatch):
    import botocore.auth

    six_minutes_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: six_minutes_ago)
    body = _body(dueDate=_due_in(3600))
    headers = _signed_headers(target, stack.events_url, body)

    response = requests.post(stack.events_url, data=body, headers=headers)

    assert response.status_code == 403
    assert response.json()["message"].startswith("Signature expired")


def _curl_supports_sigv4() -> bool:
    curl = shutil.which("curl")
    if curl is None:
        return False
    help_text = subprocess.run([curl, "--help", "all"], capture_output=True, text=True)
    return "--aws-sigv4" in help_text.stdout


@pytest.mark.skipif(not _curl_supports_sigv4(), reason="curl lacks --aws-sigv4")
def test_curl_aws_sigv4_schedules_event(target, stack, event_id):
    body = _body(dueDate=_due_in(3600), data={"via": "curl"}, id=event_id)
    command = signing.curl_command(target, stack.events_url, body)

    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --fail-with-body"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr + result.stdout
    assert json.loads(result.stdout)["id"] == event_id


# --- the gateway process -----------------------------------------------------------


def test_gateway_logs_each_request_with_its_id(lab, stack, endpoint):
    response = endpoint.session.get(f"{endpoint.events_url}/logged-{uuid.uuid4()}")
    request_id = response.headers["x-amzn-RequestId"]
    log_path = Path(lab.state().gateways[stack.rest_api_id].log)
    line = rf"GET /v1/events/logged-\S+ 404 .* request {request_id}"

    # The gateway logs a request after it has sent the response.
    deadline = time.monotonic() + 5
    while not re.search(line, log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert re.search(line, log_path.read_text())


def test_gateway_serves_changes_only_after_redeploy(target):
    from helpers.stack import deploy_stack, teardown_stack

    name = f"redeploy-{uuid.uuid4().hex[:8]}"
    outputs = deploy_stack(target, name)
    try:
        client = target.client("apigateway")
        endpoint = make_endpoint(target, outputs)
        post_event(endpoint, "{}")
        client.put_gateway_response(
            restApiId=outputs.rest_api_id,
            responseType="BAD_REQUEST_BODY",
            statusCode="400",
            responseTemplates={"application/json": '{"changed": true}'},
        )
        time.sleep(1.2)  # longer than the gateway's stage check interval
        before_redeploy = post_event(endpoint, "{}").json()

        deployment = client.create_deployment(restApiId=outputs.rest_api_id)
        client.update_stage(
            restApiId=outputs.rest_api_id,
            stageName=outputs.stage,
            patchOperations=[
                {"op": "replace", "path": "/deploymentId", "value": deployment["id"]}
            ],
        )
        time.sleep(1.2)
        after_redeploy = post_event(endpoint, "{}").json()
    finally:
        teardown_stack(target, name)

    assert "changed" not in before_redeploy
    assert after_redeploy == {"changed": True}


def test_request_auth_reads_refreshed_credentials():
    from botocore.credentials import Credentials

    credentials = Credentials("AKIAFIRSTKEY00000000", "first-secret")
    auth = signing.SigV4RequestAuth(credentials, "us-east-1")
    url = "https://a1b2c3.execute-api.us-east-1.amazonaws.com/v1/events"

    first = auth(requests.Request("GET", url).prepare())
    credentials.access_key = "AKIASECONDKEY0000000"
    second = auth(requests.Request("GET", url).prepare())

    assert "Credential=AKIAFIRSTKEY00000000/" in first.headers["Authorization"]
    assert "Credential=AKIASECONDKEY0000000/" in second.headers["Authorization"]


class _CountingApiGateway:
    """A stand-in for the apigateway client that counts GetStages calls."""

    def __init__(self):
        self.get_stages_calls = 0

    def get_stages(self, restApiId):
        self.get_stages_calls += 1
        return {"item": []}


def test_api_cache_reads_stages_once_per_interval():
    from helpers.gateway import ApiCache

    client = _CountingApiGateway()
    cache = ApiCache(client, "a1b2c3", interval_s=3600)

    found = [cache.get(f"stage-{i}") for i in range(100)]

    assert found == [None] * 100
    assert client.get_stages_calls == 1
    assert cache.deployments == {}


def test_api_cache_preload_reads_stages_once():
    from helpers.gateway import ApiCache

    client = _CountingApiGateway()
    cache = ApiCache(client, "a1b2c3", interval_s=3600)

    cache.preload()

    assert client.get_stages_calls == 1
