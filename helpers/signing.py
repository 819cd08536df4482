"""Sign HTTP requests to the REST API with SigV4, as its AWS_IAM methods require.

:class:`SigV4RequestAuth` signs every request of a ``requests`` session with
botocore's :class:`~botocore.auth.SigV4Auth` for the ``execute-api`` service.
:func:`curl_command` prints the equivalent ``curl --aws-sigv4`` command.
"""

from __future__ import annotations

import shlex

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials

from helpers.emulator import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from helpers.target import Target

SERVICE = "execute-api"

# Headers that a proxy may change on the way, so they are left out of the
# signature; SigV4 then still covers the host, the date, the body and the type.
_UNSIGNED_HEADERS = {"user-agent", "accept-encoding", "accept", "connection"}


def sign_headers(
    credentials: ReadOnlyCredentials,
    region: str,
    method: str,
    url: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus the SigV4 headers (Authorization, X-Amz-Date...)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = AWSRequest(method=method, url=url, data=data, headers=dict(headers or {}))
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


class SigV4RequestAuth(requests.auth.AuthBase):
    """A ``requests`` auth that signs each request, and each retry, afresh.

    ``credentials`` are botocore credentials, frozen again for every request,
    so temporary credentials that botocore refreshes (SSO, assumed roles)
    keep working through a long run.
    """

    def __init__(self, credentials: Credentials | ReadOnlyCredentials, region: str):
        self.credentials = credentials
        self.region = region

    def _frozen(self) -> ReadOnlyCredentials:
        if isinstance(self.credentials, ReadOnlyCredentials):
            return self.credentials
        return self.credentials.get_frozen_credentials()

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        signed = {
            name: value
            for name, value in prepared.headers.items()
            if name.lower() not in _UNSIGNED_HEADERS
        }
        signed = sign_headers(
            self._frozen(), self.region, prepared.method or "GET",
            prepared.url or "", prepared.body, signed,
        )  # fmt: skip
        prepared.headers.update(signed)
        return prepared


def request_auth(target: Target) -> SigV4RequestAuth:
    """Build the request signer from the target's credentials and region."""
    target.credentials()  # raises if the session has none
    return SigV4RequestAuth(target.session.get_credentials(), target.region)


def curl_command(
    target: Target, url: str, body: str | None = None, method: str = "POST"
) -> str:
    """Return a ready-to-paste ``curl --aws-sigv4`` command for one request.

    On the local lab the command carries the lab's fixed key pair, which is no
    secret. On AWS it carries ``$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY``
    (and the session token header if the credentials have one) for the shell
    to fill in, never a real secret, so those variables must be exported.
    """
    if target.kind == "local":
        user = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"
    else:
        user = "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
    lines = [
        f'curl --aws-sigv4 "aws:amz:{target.region}:{SERVICE}"',
        f'     --user "{user}"',
    ]
    if target.kind == "aws" and target.credentials().token:
        lines.append('     -H "x-amz-security-token: $AWS_SESSION_TOKEN"')
    if method != "GET" and not (method == "POST" and body is not None):
        lines.append(f"     -X {method}")
    if body is not None:
        lines.append('     -H "Content-Type: application/json"')
        lines.append(f"     -d {shlex.quote(body)}")
    lines.append(f"     {shlex.quote(url)}")
    return " \\\n".join(lines)
