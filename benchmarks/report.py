"""Write the benchmark results as Markdown: the machine, one table per measurement."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.analysis import AnalysisResult
from benchmarks.capacity import CapacityResult
from benchmarks.collecting import CollectingResult
from benchmarks.firing import FiringResult
from helpers.capacity import LOCAL_CAPACITY_EVENTS_PER_10S

# A 1-minute load average below this before the run counts as an idle machine.
IDLE_LOAD = 0.5
NOTES_FILE = Path(__file__).with_name("notes.md")


@dataclass
class Machine:
    """The machine the benchmark ran on, and its load average around the run."""

    cores: int
    memory_gib: float
    cpu: str
    python: str
    moto: str
    system: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def idle_before(self) -> bool:
        return self.load_before[0] < IDLE_LOAD


@dataclass
class Results:
    """Everything one benchmark run measured."""

    machine: Machine
    command: str
    started: str
    duration_s: float = 0.0
    repeats: int = 0
    firing: list[FiringResult] = field(default_factory=list)
    collecting: list[CollectingResult] = field(default_factory=list)
    analysis: list[AnalysisResult] = field(default_factory=list)
    capacity: list[CapacityResult] = field(default_factory=list)
    baseline: list[CapacityResult] = field(default_factory=list)


def _meminfo_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def describe_machine() -> Machine:
    """Read the cores, memory, CPU, versions and current load of this machine."""
    return Machine(
        cores=os.cpu_count() or 0,
        memory_gib=_meminfo_gib(),
        cpu=_cpu_model(),
        python=platform.python_version(),
        moto=importlib.metadata.version("moto"),
        system=platform.platform(),
        load_before=os.getloadavg(),
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as a Markdown table; numbers right-aligned."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---:" for _ in header) + "|")
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def _machine_section(results: Results) -> str:
    machine = results.machine
    idle = (
        "The machine was otherwise idle before the run"
        if machine.idle_before
        else "The machine was NOT idle: other processes were running"
    )
    rows = [
        ("CPU cores", machine.cores),
        ("CPU", machine.cpu),
        ("Memory", f"{machine.memory_gib:.1f} GiB"),
        ("Python", machine.python),
        ("moto", machine.moto),
        ("OS", machine.system),
        ("Load average before (1 / 5 / 15 min)", _load(machine.load_before)),
        ("Load average after (1 / 5 / 15 min)", _load(machine.load_after)),
    ]
    table = markdown_table(["", "value"], rows)
    verdict = (
        f"{idle} (1-minute load average {machine.load_before[0]:.2f}; idle "
        f"means below {IDLE_LOAD})."
    )
    return f"## Machine\n\n{table}\n\n{verdict}\n"


def _firing_section(results: list[FiringResult], repeats: int) -> str:
    rows = [
        (
            r.events,
            f"{r.batch.rate(r.events):.1f}",
            f"{r.sequential.rate(r.events):.1f}",
            f"{r.speedup:.2f}",
        )
        for r in results
    ]
    header = ["events", "fire_batch events/s", "sequential events/s", "ratio"]
    return (
        "## Firing\n\nSigned POST /events requests through the local gateway: "
        "`helpers.events.fire_batch` (16 threads) against a loop of `fire_event`. "
        f"Rates use the median of {repeats} repeats; the ratio is batch over "
        f"sequential events per second.\n\n{markdown_table(header, rows)}\n"
    )


def _collecting_section(results: list[CollectingResult], repeats: int) -> str:
    rows = [
        (
            r.histories,
            f"{r.collector.rate(r.histories):.1f}",
            f"{r.sequential.rate(r.histories):.1f}",
            f"{r.speedup:.2f}",
        )
        for r in results
    ]
    header = ["histories", "collect_histories /s", "sequential /s", "ratio"]
    return (
        "## Collecting\n\nHistories of ended executions: "
        "`helpers.history.collect_histories` (8 threads, unpaced) against a loop "
        f"of `get_execution_history`. Rates use the median of {repeats} repeats; "
        "the ratio is collector over sequential histories per second.\n\n"
        f"{markdown_table(header, rows)}\n"
    )


def _analysis_section(results: list[AnalysisResult], repeats: int) -> str:
    rows = [
        (f"{r.executions:,}", f"{r.timing.median_s:.3f}", f"{r.ms_per_1000:.1f}")
        for r in results
    ]
    header = ["executions", "median s", "ms per 1,000 executions"]
    return (
        "## Analysis\n\n`latency_table`, `latency_summary` and `category_counts` "
        "over synthetic histories from `helpers.synthetic.synthetic_run`, median "
        f"of {repeats} repeats. A flat time per 1,000 executions means the "
        f"analysis grows linearly.\n\n{markdown_table(header, rows)}\n"
    )


def _capacity_row(label: str, r: CapacityResult) -> tuple[object, ...]:
    return (
        f"{r.events:,}",
        label,
        f"{r.p50_s:.2f}",
        f"{r.p99_s:.2f}",
        f"{r.max_s:.2f}",
        f"{r.min_s:.2f}",
        f"{r.end_p99_s:.2f}",
        f"{r.end_max_s:.2f}",
        r.started_late + r.missing_wait_exit + r.missing_end,
        f"{r.load.peak_rss_mib:.0f}",
        r.load.peak_threads,
        f"{r.load.window_cpu_s:.1f}",
    )


def _capacity_verdict(results: list[CapacityResult]) -> str:
    on_time = [r.events for r in results if r.p99_s <= 1.0 and _complete(r)]
    largest = max(on_time, default=0)
    return (
        f"Largest size with p99 wait-end lateness within 1 s in this run: "
        f"{largest:,} events per 10 s. The goal is 2,000 on a 2-core machine; "
        f"`helpers.capacity.LOCAL_CAPACITY_EVENTS_PER_10S` is "
        f"{LOCAL_CAPACITY_EVENTS_PER_10S:,}."
    )


def _complete(result: CapacityResult) -> bool:
    return not (result.started_late or result.missing_wait_exit or result.missing_end)


def _capacity_section(results: Results) -> str:
    rows = [_capacity_row("cached", r) for r in results.capacity]
    rows += [_capacity_row("per task (moto)", r) for r in results.baseline]
    header = [
        "events", "Lambda client", "p50 s", "p99 s", "max s", "min s",
        "end p99 s", "end max s", "not measured", "peak RSS MiB",
        "peak threads", "emulator CPU s",
    ]  # fmt: skip
    return (
        "## Capacity of the local lab\n\nN executions due within one 10 s window "
        "(a tenth in each whole second), started ahead of time with "
        "StartExecution on a fresh lab per row. Lateness is WaitStateExited "
        "minus the due date truncated to the second; moto rounds the wait down "
        "to whole seconds, so an on-time event has a lateness between -1 and 0 s. "
        "*end* is the execution's end, after the Lambda task. *not measured* "
        "counts events started less than 1 s before they were due or without a "
        "WaitStateExited or end event. Peak RSS is the emulator's VmHWM; "
        "emulator CPU is its user plus system time from the window's start to "
        "1 s after its end. One run per row.\n\n"
        f"{markdown_table(header, rows)}\n\n{_capacity_verdict(results.capacity)}\n"
    )


def render(results: Results) -> str:
    """Return the whole Markdown page."""
    machine = results.machine
    sections = [
        "# Benchmarks\n",
        f"Run `{results.command}` on {results.started} for "
        f"{results.duration_s / 60:.1f} min. Each measurement runs on its own "
        "local lab in a temporary directory, so none of them touches `make up`'s "
        "lab. No test asserts these times: they depend on the machine and on "
        "what else runs on it.\n",
        _machine_section(results),
        _firing_section(results.firing, results.repeats),
        _collecting_section(results.collecting, results.repeats),
        _analysis_section(results.analysis, results.repeats),
        _capacity_section(results),
    ]
    if not machine.idle_before:
        warning = (
            "> **Repeat this run on an idle machine**: the load average shows "
            f"other processes competing for the {machine.cores} cores.\n"
        )
        sections.insert(2, warning)
    if NOTES_FILE.exists():
        sections.append(NOTES_FILE.read_text())
    return "\n".join(sections)


def write_report(results: Results, path: Path) -> None:
    """Write the page to ``path``, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results))
