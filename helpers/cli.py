"""Command line of the Makefile targets: up, status, teardown, down and demo.

Run ``python -m helpers.cli --help``. Each command works on the local lab
unless ``--target aws`` is given; ``up`` never deploys to AWS.
"""

from __future__ import annotations

import argparse
import logging
import sys

from helpers.emulator import ACCESS_KEY_ID, DEFAULT_REGION, SECRET_ACCESS_KEY, LocalLab
from helpers.stack import (
    DEFAULT_STACK_NAME,
    DEFAULT_STAGE,
    StackNames,
    deploy_stack,
    find_stack_resources,
    teardown_stack,
)
from helpers.target import make_target


def command_up(arguments: argparse.Namespace) -> int:
    """Start the local lab, deploy the stack and print the endpoint URL last."""
    target = make_target("local", region=arguments.region)
    outputs = deploy_stack(target, arguments.stack)
    for kind, name, change in outputs.changes:
        print(f"{kind} {name}: {change}")
    print(f"Emulator: {target.endpoint_url}")
    print(outputs.endpoint_url)
    return 0


def command_status(arguments: argparse.Namespace) -> int:
    """Print the lab's URLs, region, key pair and each service's health.

    Exits with 1 only if a running service is unhealthy.
    """
    lab = LocalLab(region=arguments.region or DEFAULT_REGION)
    if not lab.running():
        print("Local lab: not running (start it with `make up`)")
        return 0
    print(f"Emulator URL: {lab.url}")
    print(f"Region:       {lab.region}")
    print(f"Access key:   {ACCESS_KEY_ID}")
    print(f"Secret key:   {SECRET_ACCESS_KEY}  (accepted by the local lab only)")
    health = lab.health()
    target = make_target("local", region=arguments.region, lab=lab)
    found = find_stack_resources(target, StackNames(arguments.stack))
    rest_api_id = found["rest_api"]
    gateway_url = lab.gateway_url(rest_api_id, DEFAULT_STAGE) if rest_api_id else None
    if gateway_url:
        health["gateway"] = lab.gateway_healthy(rest_api_id)
    for service, healthy in health.items():
        print(f"  {service:<14} {'healthy' if healthy else 'UNHEALTHY'}")
    if gateway_url:
        print(f"Stack {arguments.stack}: deployed\nEndpoint URL: {gateway_url}")
    else:
        print(f"Stack {arguments.stack}: not deployed (run `make up`)")
    return 0 if all(health.values()) else 1


def command_teardown(arguments: argparse.Namespace) -> int:
    """Delete the stack from the chosen target; safe to run twice."""
    if (
        arguments.target == "local"
        and not LocalLab(region=arguments.region or DEFAULT_REGION).running()
    ):
        print("Local lab: not running, so no stack is deployed on it")
        return 0
    target = make_target(
        arguments.target, region=arguments.region, profile=arguments.profile
    )
    deleted = teardown_stack(target, arguments.stack)
    for line in deleted:
        print(f"deleted {line}")
    if target.kind == "local" and any(line.startswith("REST API") for line in deleted):
        print("stopped the local gateway of the deleted REST API")
    print(f"Stack {arguments.stack} on {target.description}: nothing of it remains")
    return 0


def command_down(arguments: argparse.Namespace) -> int:
    """Stop every process of the local lab."""
    LocalLab(region=arguments.region or DEFAULT_REGION).stop()
    print("Local lab: stopped")
    return 0


def command_demo(arguments: argparse.Namespace) -> int:
    """Run the notebooks headlessly on the local lab, then print the latency summary."""
    from helpers import demo

    return demo.run(stack_name=arguments.stack, region=arguments.region)


COMMANDS = {
    "up": command_up,
    "status": command_status,
    "teardown": command_teardown,
    "down": command_down,
    "demo": command_demo,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers.cli", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--stack", default=DEFAULT_STACK_NAME, help="stack name")
    parser.add_argument(
        "--region", default=None, help="AWS region (default us-east-1 locally)"
    )
    parser.add_argument(
        "--target", choices=("local", "aws"), default="local",
        help="where `teardown` deletes the stack from",
    )  # fmt: skip
    parser.add_argument("--profile", default=None, help="AWS profile for --target aws")
    parser.add_argument("--verbose", action="store_true", help="log each step")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return COMMANDS[arguments.command](arguments)


if __name__ == "__main__":
    sys.exit(main())
