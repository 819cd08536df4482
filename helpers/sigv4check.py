"""Verify the SigV4 signature of an HTTP request, as API Gateway's AWS_IAM does.

The signature is recomputed with botocore's :class:`~botocore.auth.SigV4Auth`
from the secret key of the access key id named in the request and compared in
constant time. The messages are API Gateway's for the same failures.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = timedelta(minutes=5)

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed_headers>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})"
)

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult the "
    "service documentation for details."
)


class SignatureRejected(Exception):
    """The request is unsigned or its signature is invalid; maps to a 403."""

    def __init__(self, response_type: str, message: str):
        super().__init__(message)
        self.response_type = response_type
        self.message = message


@dataclass
class SignedRequest:
    """An HTTP request as received: the URL the client used and its raw parts."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


def _parse_authorization(request: SignedRequest) -> re.Match:
    authorization = request.header("Authorization")
    if not authorization:
        raise SignatureRejected(
            "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"
        )
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "Authorization header requires 'Credential', 'SignedHeaders' and "
            f"'Signature' parameters, comma-separated. Authorization={authorization}",
        )
    return match


def _check_scope(credential: str, amz_date: str, region: str) -> str:
    """Check the credential scope KEY/DATE/REGION/SERVICE/aws4_request; return KEY."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"Credential should be KEY/DATE/REGION/SERVICE/aws4_request, not "
            f"{credential!r}.",
        )
    key, date, scope_region, service, _ = parts
    if date != amz_date[:8]:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"Credential should be scoped to a valid date: {date!r} is not the "
            f"date of X-Amz-Date {amz_date!r}.",
        )
    if scope_region != region:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"Credential should be scoped to a valid region, not '{scope_region}'.",
        )
    if service != "execute-api":
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "Credential should be scoped to correct service: 'execute-api'.",
        )
    return key


def _check_clock(amz_date: str, now: datetime) -> None:
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"X-Amz-Date must have the form 20260828T150000Z, not {amz_date!r}.",
        ) from None
    earliest, latest = now - MAX_CLOCK_SKEW, now + MAX_CLOCK_SKEW
    if signed_at < earliest:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"Signature expired: {amz_date} is now earlier than "
            f"{earliest:{SIGV4_TIMESTAMP}} ({now:{SIGV4_TIMESTAMP}} - 5 min.)",
        )
    if signed_at > latest:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            f"Signature not yet current: {amz_date} is still later than "
            f"{latest:{SIGV4_TIMESTAMP}} ({now:{SIGV4_TIMESTAMP}} + 5 min.)",
        )


def _check_payload_hash(request: SignedRequest) -> None:
    declared = request.header("X-Amz-Content-SHA256")
    if declared is not None and declared != hashlib.sha256(request.body).hexdigest():
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "The provided 'x-amz-content-sha256' header does not match what was "
            "computed.",
        )


class _VerifyingSigV4Auth(SigV4Auth):
    """SigV4Auth that signs exactly the headers the client listed as signed.

    botocore's signer leaves out headers it never signs itself, such as
    User-Agent and Expect. A client may sign them, and API Gateway accepts
    that, so verification must include them.
    """

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name, value in request.headers.items():
            header_map[name.lower()] = value
        return header_map


def expected_signature(
    request: SignedRequest,
    signed_headers: list[str],
    amz_date: str,
    credentials: Credentials,
    region: str,
) -> str:
    """Recompute the signature over the headers that the client signed."""
    headers = {name: request.header(name) or "" for name in signed_headers}
    recomputed = AWSRequest(
        method=request.method, url=request.url, headers=headers, data=request.body
    )
    recomputed.context["timestamp"] = amz_date
    signer = _VerifyingSigV4Auth(credentials, "execute-api", region)
    canonical = signer.canonical_request(recomputed)
    return signer.signature(signer.string_to_sign(recomputed, canonical), recomputed)


def _signed_scope(
    request: SignedRequest, secret_keys: dict[str, str], region: str, now: datetime
) -> tuple[re.Match, str, str]:
    """Check everything but the signature; return the header match, date and key."""
    match = _parse_authorization(request)
    amz_date = request.header("X-Amz-Date")
    if not amz_date:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "Authorization header requires existence of a 'X-Amz-Date' header.",
        )
    key = _check_scope(match["credential"], amz_date, region)
    _check_clock(amz_date, now)
    if key not in secret_keys:
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "The security token included in the request is invalid.",
        )
    if "host" not in match["signed_headers"].split(";"):
        raise SignatureRejected(
            "INVALID_SIGNATURE", "'Host' or ':authority' must be a 'SignedHeader'."
        )
    _check_payload_hash(request)
    return match, amz_date, key


def verify_signature(
    request: SignedRequest,
    secret_keys: dict[str, str],
    region: str,
    now: datetime | None = None,
) -> str:
    """Return the access key id that signed ``request``; raise SignatureRejected.

    ``secret_keys`` maps each accepted access key id to its secret key.
    """
    match, amz_date, key = _signed_scope(
        request, secret_keys, region, now or datetime.now(UTC)
    )
    token = request.header("X-Amz-Security-Token")
    if token is not None:
        # The accepted keys are long-term keys, which have no session token.
        raise SignatureRejected(
            "INVALID_SIGNATURE",
            "The security token included in the request is invalid.",
        )
    credentials = Credentials(key, secret_keys[key])
    signed_headers = match["signed_headers"].split(";")
    try:
        expected = expected_signature(
            request, signed_headers, amz_date, credentials, region
        )
    except ValueError as error:
        # botocore cannot build the canonical request, e.g. from "Host: [".
        raise SignatureRejected("INVALID_SIGNATURE", SIGNATURE_MISMATCH) from error
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureRejected("INVALID_SIGNATURE", SIGNATURE_MISMATCH)
    return key
