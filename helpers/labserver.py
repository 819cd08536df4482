"""Entry point of the local lab's emulator process: moto's server, made AWS-strict.

Run as ``python -m helpers.labserver --ready-file PATH``. The process binds
127.0.0.1 on a free port, writes ``{"port": ..., "pid": ...}`` to the ready
file, and serves until it is terminated. Before it serves, it:

- switches its clock to UTC, because moto 5.2.5's Wait state subtracts the
  process's local time from the UTC due time;
- sets ``MOTO_PORT`` to the port it really listens on, because moto's Step
  Functions interpreter invokes Lambda at ``localhost:$MOTO_PORT``;
- turns on Step Functions execution and Lambda without Docker;
- makes StartExecution reject what AWS rejects and moto 5.2.5 accepts;
- reuses one boto3 client for the Lambda tasks of all executions.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from helpers import limits

# Set to "0" to keep moto's client per Lambda task, so that a benchmark can
# measure what the cache in cache_clients saves.
REUSE_LAMBDA_CLIENTS_ENV = "TIMESTAMP_LAB_REUSE_LAMBDA_CLIENTS"

LAB_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def _use_utc_clock() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()


def _configure_moto() -> None:
    from moto.moto_api import _internal  # noqa: F401  (registers the backends)
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.set_config(LAB_CONFIG)


def _make_start_execution_strict() -> None:
    """Reject execution names and inputs as AWS does before moto starts a run.

    moto's Step Functions interpreter skips the name check of its plain backend
    and never checks the input size, so a name of 81 characters or an input of
    300 KiB would start an execution here and fail on AWS.
    """
    from moto.stepfunctions.exceptions import InvalidExecutionInput, InvalidName
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None,
                        trace_header=None):  # fmt: skip
        if name is not None:
            problem = limits.execution_name_problem(name)
            if problem:
                raise InvalidName(f"Invalid Name: '{name}' ({problem})")
        if execution_input is not None:
            problem = limits.execution_input_problem(execution_input)
            if problem:
                raise InvalidExecutionInput(problem)
        return original(self, state_machine_arn, name, execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution


def cache_clients(create_client: Callable) -> Callable:
    """Wrap moto's ``boto_client_for`` so it builds one client per region and service.

    moto 5.2.5 builds a new boto3 client for every Lambda task it runs. One
    client takes about 2 ms of CPU, but hundreds of tasks building clients at
    once contend for botocore's shared loader and its locks. With 1,000 events
    due within 10 s, the emulator spent minutes of CPU time, and Wait states
    ended up to a minute late (docs/benchmarks.md). The cached clients behave
    as moto's, because moto ignores ``state_credentials`` and always signs with
    a fixed dummy key, and boto3 clients are thread-safe.
    """
    clients: dict[tuple[str, str], object] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials=None):
        key = (region, service)
        with lock:
            if key not in clients:
                clients[key] = create_client(region, service, state_credentials)
            return clients[key]

    return boto_client_for


def lambda_client_reuse_enabled(environment: Mapping[str, str]) -> bool:
    """Tell whether to cache Lambda task clients: yes unless the variable is "0"."""
    return environment.get(REUSE_LAMBDA_CLIENTS_ENV, "1") != "0"


def _reuse_lambda_clients() -> None:
    """Cache the clients of Lambda tasks; other service integrations keep moto's."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
    )

    lambda_eval_utils.boto_client_for = cache_clients(lambda_eval_utils.boto_client_for)


def _serve(ready_file: Path) -> None:
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)

    ready = {"port": port, "pid": os.getpid()}
    partial = ready_file.with_suffix(".tmp")
    partial.write_text(json.dumps(ready))
    partial.replace(ready_file)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ready-file", type=Path, required=True,
        help="file to write the listening port and process id to",
    )  # fmt: skip
    args = parser.parse_args()

    _use_utc_clock()
    _configure_moto()
    _make_start_execution_strict()
    if lambda_client_reuse_enabled(os.environ):
        _reuse_lambda_clients()
    _serve(args.ready_file)


if __name__ == "__main__":
    main()
