"""The target of the stack: the local lab (the default) or a real AWS account."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Literal

import boto3
from botocore.config import Config
from botocore.loaders import create_loader
from botocore.regions import EndpointResolver

from helpers.emulator import (
    ACCESS_KEY_ID,
    DEFAULT_REGION,
    SECRET_ACCESS_KEY,
    LocalLab,
)

logger = logging.getLogger(__name__)

TargetKind = Literal["local", "aws"]

# Adaptive mode adds client-side rate limiting to standard mode's retries of
# throttling and transient errors, with exponential backoff between attempts.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})


@dataclass
class Target:
    """A region of the local lab or of an AWS account; hands out configured clients."""

    kind: TargetKind
    region: str
    session: boto3.Session
    lab: LocalLab | None = None

    @property
    def endpoint_url(self) -> str | None:
        return self.lab.url if self.lab else None

    @property
    def partition(self) -> str:
        """The ARN partition of the region: "aws", "aws-cn", "aws-us-gov"..."""
        return self.session.get_partition_for_region(self.region)

    @property
    def dns_suffix(self) -> str:
        """The domain of the partition's endpoints, from botocore's endpoint data."""
        return _endpoint_resolver().get_partition_dns_suffix(self.partition)

    @property
    def description(self) -> str:
        """Name the target in titles: "local emulator" or "AWS us-east-1"."""
        if self.kind == "local":
            return "local emulator"
        return f"AWS {self.region}"

    def client(self, service: str, config: Config | None = None):
        """Return a boto3 client for ``service`` with adaptive retries."""
        merged = RETRY_CONFIG.merge(config) if config else RETRY_CONFIG
        return self.session.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=merged,
        )

    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def credentials(self):
        """Return frozen credentials of the session, for signing HTTP requests."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError(
                f"no AWS credentials found for the {self.description} target; "
                "configure a profile or the AWS_* environment variables"
            )
        return credentials.get_frozen_credentials()


@cache
def _endpoint_resolver() -> EndpointResolver:
    return EndpointResolver(create_loader().load_data("endpoints"))


def make_target(
    target: TargetKind = "local",
    *,
    region: str | None = None,
    profile: str | None = None,
    lab: LocalLab | None = None,
) -> Target:
    """Build the target: start (or reuse) the local lab, or open an AWS session.

    ``target="aws"`` only opens a session: nothing is created until
    :func:`helpers.stack.deploy_stack` is called with the account id as its
    confirmation.
    """
    if target == "local":
        lab = lab or LocalLab(region=region or DEFAULT_REGION)
        lab.start()
        session = boto3.Session(
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=lab.region,
        )
        return Target("local", lab.region, session, lab)
    if target == "aws":
        session = boto3.Session(profile_name=profile, region_name=region)
        if not session.region_name:
            raise ValueError(
                "target='aws' needs a region: pass region='eu-west-1' or set one "
                "in the profile"
            )
        return Target("aws", session.region_name, session)
    raise ValueError(f"target must be 'local' or 'aws', not {target!r}")
