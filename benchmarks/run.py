"""Run every benchmark on private local labs and write docs/benchmarks.md.

Run as ``python -m benchmarks.run`` (``make bench``) for the full sizes: about
12 minutes on 2 cores, after a wait of up to 5 minutes for an idle machine.
``--quick`` runs small sizes that check the scripts in a few minutes and
writes ``results/benchmarks-quick.md`` instead.
Each measurement starts its own lab and stops it when done.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.analysis import measure_analysis
from benchmarks.capacity import measure_capacity
from benchmarks.collecting import measure_collecting
from benchmarks.firing import measure_firing
from benchmarks.report import IDLE_LOAD, Results, describe_machine, write_report
from helpers.emulator import REPO_ROOT

logger = logging.getLogger(__name__)

# The 1-minute load average decays by a factor of e every minute, so after an
# install or a test run it takes a few minutes to fall below IDLE_LOAD.
SETTLE_POLL_S = 5.0


@dataclass(frozen=True)
class Sizes:
    """The sizes each measurement runs at."""

    firing: tuple[int, ...]
    collecting: tuple[int, ...]
    analysis: tuple[int, ...]
    capacity: tuple[int, ...]
    baseline: tuple[int, ...]
    output: Path


FULL = Sizes(
    firing=(100, 400),
    collecting=(200, 1000),
    analysis=(10_000, 100_000),
    capacity=(250, 500, 1000, 2000),
    baseline=(1000,),
    output=REPO_ROOT / "docs" / "benchmarks.md",
)
QUICK = Sizes(
    firing=(10, 30),
    collecting=(20, 60),
    analysis=(1_000, 10_000),
    capacity=(50, 100),
    baseline=(50,),
    output=REPO_ROOT / "results" / "benchmarks-quick.md",
)


def _parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true",
        help="run small sizes to check the scripts; write results/benchmarks-quick.md",
    )  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=3,
        help="repeats of each speed measurement; the tables show the median",
    )  # fmt: skip
    parser.add_argument(
        "--no-baseline", action="store_true",
        help="skip the capacity run without the emulator's Lambda client reuse",
    )  # fmt: skip
    parser.add_argument(
        "--output", type=Path,
        help="Markdown file to write (default: docs/benchmarks.md, or "
        "results/benchmarks-quick.md with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--settle-s", type=float, default=300.0,
        help="seconds to wait at most for the 1-minute load average to fall "
        f"below {IDLE_LOAD} before measuring",
    )  # fmt: skip
    return parser.parse_args(argv)


def _command(arguments: argparse.Namespace) -> str:
    parts = ["python", "-m", "benchmarks.run"]
    if arguments.quick:
        parts.append("--quick")
    if arguments.repeats != 3:
        parts += ["--repeats", str(arguments.repeats)]
    if arguments.no_baseline:
        parts.append("--no-baseline")
    return shlex.join(parts)


def wait_until_idle(limit_s: float) -> float:
    """Wait up to ``limit_s`` for the 1-minute load to fall below IDLE_LOAD.

    Returns the load average reached. The run goes on after the limit, and
    the report then marks the machine as not idle.
    """
    deadline = time.monotonic() + limit_s
    load = os.getloadavg()[0]
    if load >= IDLE_LOAD:
        print(f"waiting up to {limit_s:.0f} s for the load ({load:.2f}) to settle")
    while load >= IDLE_LOAD and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
        load = os.getloadavg()[0]
    return load


def _measure(results: Results, sizes: Sizes, baseline: bool) -> None:
    repeats = results.repeats
    for events in sizes.firing:
        print(f"firing {events} events x {repeats} ...", flush=True)
        results.firing.append(measure_firing(events, repeats))
    for histories in sizes.collecting:
        print(f"collecting {histories} histories x {repeats} ...", flush=True)
        results.collecting.append(measure_collecting(histories, repeats))
    for executions in sizes.analysis:
        print(f"analysing {executions} executions x {repeats} ...", flush=True)
        results.analysis.append(measure_analysis(executions, repeats))
    for events in sizes.capacity:
        print(f"capacity: {events} events due within 10 s ...", flush=True)
        results.capacity.append(measure_capacity(events))
    for events in sizes.baseline if baseline else ():
        print(f"capacity without client reuse: {events} events ...", flush=True)
        results.baseline.append(measure_capacity(events, reuse_lambda_clients=False))


def main(argv: list[str] | None = None) -> int:
    arguments = _parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    sizes = QUICK if arguments.quick else FULL
    output = arguments.output or sizes.output
    wait_until_idle(arguments.settle_s)
    results = Results(
        machine=describe_machine(),
        command=_command(arguments),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        repeats=arguments.repeats,
    )
    began = time.monotonic()
    _measure(results, sizes, baseline=not arguments.no_baseline)
    results.duration_s = time.monotonic() - began
    results.machine.load_after = os.getloadavg()
    write_report(results, output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
