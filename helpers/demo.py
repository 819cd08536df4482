"""The main job: run the notebooks headlessly on the local lab, then summarise.

``make demo`` calls :func:`run`. It executes the deploy, fire and latency
notebooks in order with papermill, keeps each executed copy under
``results/<run-id>/notebooks/``, and prints the latency summary of the run
and the paths of its figures.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import papermill

from helpers.emulator import DEFAULT_REGION, REPO_ROOT

logger = logging.getLogger(__name__)

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
LOCAL_READING_NOTE = (
    "Lateness between -1,000 and 0 ms is the emulator rounding each wait down to\n"
    "whole seconds, not AWS. handler_lateness_ms has no values here: the\n"
    "emulator never runs the handler's code, so only AWS measures it."
)
NOTEBOOKS = (
    "01_deploy_stack.ipynb",
    "02_fire_events.ipynb",
    "03_trigger_latency.ipynb",
)


def execute_notebook(name: str, output_dir: Path, parameters: dict) -> Path:
    """Execute one notebook with ``parameters``; return the executed copy's path."""
    output = output_dir / name
    logger.info("executing %s with %s", name, parameters)
    papermill.execute_notebook(
        NOTEBOOK_DIR / name,
        output,
        parameters=parameters,
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
    )
    return output


def run(stack_name: str, region: str | None = None, run_id: str | None = None) -> int:
    """Run every notebook on the local lab, print the summary; return an exit code."""
    from helpers.latency import summarize_run

    run_id = run_id or f"demo-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    run_dir = REPO_ROOT / "results" / run_id
    output_dir = run_dir / "notebooks"
    output_dir.mkdir(parents=True, exist_ok=True)
    parameters = {
        "target": "local",
        "stack_name": stack_name,
        "region": region or DEFAULT_REGION,
        "run_id": run_id,
    }
    for name in NOTEBOOKS:
        executed = execute_notebook(name, output_dir, parameters)
        print(f"executed {executed.relative_to(REPO_ROOT)}")

    summary, figures = summarize_run(run_dir)
    print(f"\nTrigger latency of run {run_id} on the local emulator (ms):")
    print(summary.to_string(float_format=lambda value: f"{value:,.1f}"))
    print(LOCAL_READING_NOTE)
    print("\nFigures:")
    for figure in figures:
        print(f"  {figure.relative_to(REPO_ROOT)}")
    return 0
