"""Figures of trigger latency, drawn from the table of :func:`helpers.latency_table`.

Every function returns a matplotlib Figure with an Agg canvas attached and
never touches pyplot's global state, so it works headless and in notebooks
alike. :func:`save_run_figures` writes them as PNG files in a run directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

logger = logging.getLogger(__name__)

LOCAL_TARGET = "local emulator"
HEADLINE = "trigger_latency_ms"
# The lateness columns drawn in the ECDF, with their legend labels.
LATENESS_CURVES = {
    "wait_exited_lateness_ms": "Wait state exited",
    "trigger_latency_ms": "Task state entered (trigger latency)",
    "lambda_started_lateness_ms": "Lambda function started",
    "handler_lateness_ms": "handler's own clock",
}
# Line widths of successive ECDF curves, widest first.
ECDF_LINE_WIDTHS = (5.0, 3.0, 1.5, 1.0)
# A lateness range this many times wider than its p10 to p90 range is drawn
# on a symmetric log scale.
SYMLOG_TAIL_RATIO = 10.0
TIMELINE_MAX_EXECUTIONS = 40
FIGURE_DPI = 120


def _new_figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _on(target: str) -> str:
    """Return the target as titles name it: "the local emulator", "AWS us-east-1"."""
    return f"the {target}" if target == LOCAL_TARGET else target


def _measured(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["included"]]


def _mark_emulator_rounding(axes: Axes, target: str, vertical: bool) -> None:
    """Shade -1000 to 0 ms: the local emulator rounds each wait down to a second."""
    if target != LOCAL_TARGET:
        return
    label = "emulator rounds waits down to whole seconds"
    if vertical:
        axes.axvspan(-1000, 0, color="tab:orange", alpha=0.12, label=label)
    else:
        axes.axhspan(-1000, 0, color="tab:orange", alpha=0.12, label=label)


def plot_due_vs_actual(table: pd.DataFrame, target: str) -> Figure:
    """Plot when each execution was due against when its task state was entered."""
    figure, axes = _new_figure()
    # Events due in the same second often fire together, so the dots are
    # translucent and the legend counts them: a darker dot is several events.
    for label, rows, marker in (
        ("measured executions", _measured(table), "o"),
        ("overdue at submission", table[table["category"] == "overdue"], "x"),
    ):
        if not rows.empty:
            axes.scatter(rows["due"], rows["task_entered"], s=14, marker=marker,
                         alpha=0.6, label=f"{label} ({len(rows)})")  # fmt: skip
    fired = table.dropna(subset=["due", "task_entered"])
    if not fired.empty:
        low = min(fired["due"].min(), fired["task_entered"].min())
        high = max(fired["due"].max(), fired["task_entered"].max())
        axes.plot([low, high], [low, high], color="grey", linewidth=1,
                  linestyle="--", label="y = x: on time")  # fmt: skip
    _format_time_axis(axes.xaxis)
    _format_time_axis(axes.yaxis)
    axes.set_xlabel("due date (UTC, HH:MM:SS)")
    axes.set_ylabel("Task state entered (UTC, HH:MM:SS)")
    axes.set_title(f"Due against actual trigger time on {_on(target)}")
    axes.legend(loc="upper left")
    return figure


def _format_time_axis(axis) -> None:
    axis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
    axis.set_major_locator(mdates.AutoDateLocator(tz=UTC))
    axis.set_tick_params(labelrotation=30)


def plot_lateness_histogram(table: pd.DataFrame, target: str) -> Figure:
    """Plot the histogram of trigger latency over the included executions."""
    figure, axes = _new_figure()
    values = _measured(table)[HEADLINE].dropna()
    _mark_emulator_rounding(axes, target, vertical=True)
    if not values.empty:
        bins = min(60, max(10, int(np.sqrt(len(values)))))
        axes.hist(values, bins=bins, color="tab:blue", edgecolor="white")
    axes.axvline(0, color="black", linewidth=1, label="due (truncated to the second)")
    axes.set_xlabel("trigger latency: Task state entered minus due date (ms)")
    axes.set_ylabel("executions")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(f"Trigger latency of {len(values)} executions on {_on(target)}")
    axes.legend(loc="best")
    return figure


def plot_lateness_ecdf(table: pd.DataFrame, target: str) -> Figure:
    """Plot the empirical CDF of each lateness measure the table has values for.

    Curves that coincide, as the wait's end and the task's start do on the
    local emulator, stay visible: each is drawn thinner than the one before.
    """
    figure, axes = _new_figure()
    _mark_emulator_rounding(axes, target, vertical=True)
    measured = _measured(table)
    drawn: list[pd.Series] = []
    for column, label in LATENESS_CURVES.items():
        values = measured[column].dropna()
        if not values.empty:
            width = ECDF_LINE_WIDTHS[min(len(drawn), len(ECDF_LINE_WIDTHS) - 1)]
            axes.ecdf(values, label=label, linewidth=width, alpha=0.8)
            drawn.append(values)
    axes.axvline(0, color="black", linewidth=1)
    for share in (0.5, 0.9, 0.99):
        axes.axhline(share, color="grey", linewidth=0.5, linestyle=":")
        # At the right edge of the axes, at the height of the share.
        axes.annotate(
            f"p{share * 100:g}",
            (1.0, share),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color="grey",
        )
    scale = _set_lateness_scale(axes, drawn)
    axes.set_xlabel(
        f"lateness: event time minus due date truncated to the second (ms{scale})"
    )
    axes.set_ylabel("share of executions at or below")
    axes.set_ylim(0, 1.03)  # room for the p99 label below the top edge
    axes.set_title(f"Lateness of each step, ECDF, on {_on(target)}")
    axes.legend(loc="lower right")
    return figure


def _set_lateness_scale(axes: Axes, curves: list[pd.Series]) -> str:
    """Use a symmetric log scale only for a long tail; return the label suffix.

    A few slow outliers, such as Lambda cold starts, would squeeze the bulk
    of the curves on a linear scale. The tail counts as long when the whole
    range is over SYMLOG_TAIL_RATIO times the range from p10 to p90. The
    symmetric log scale is linear within 10 ms of the due time.
    """
    if not curves:
        return ""
    values = pd.concat(curves)
    bulk = values.quantile(0.9) - values.quantile(0.1)
    if values.max() - values.min() <= SYMLOG_TAIL_RATIO * max(bulk, 1.0):
        return ""
    axes.set_xscale("symlog", linthresh=10)
    return ", symmetric log scale"


def plot_lateness_vs_lead_time(table: pd.DataFrame, target: str) -> Figure:
    """Plot trigger latency against how far ahead each event was scheduled."""
    figure, axes = _new_figure()
    measured = _measured(table)
    _mark_emulator_rounding(axes, target, vertical=False)
    axes.scatter(measured["lead_time_s"], measured[HEADLINE], s=14)
    axes.axhline(0, color="black", linewidth=1)
    axes.set_xlabel("lead time: due date minus submission (s)")
    axes.set_ylabel("trigger latency (ms)")
    axes.set_title(f"Trigger latency against lead time on {_on(target)}")
    if target == LOCAL_TARGET:
        axes.legend(loc="upper right")
    return figure


def plot_timeline(
    table: pd.DataFrame, target: str, limit: int = TIMELINE_MAX_EXECUTIONS
) -> Figure:
    """Draw each execution from submission through the wait to the action's end.

    Shows the first ``limit`` executions by due date, one row each.
    """
    rows = table.sort_values("due").head(limit).reset_index(drop=True)
    figure, axes = _new_figure(9.0, max(3.0, 0.22 * len(rows) + 1.5))
    submitted = rows["submitted_at"].fillna(rows["execution_started"])
    waited_until = rows["wait_exited"].fillna(rows["execution_ended"])
    acted_until = rows["execution_ended"]
    segments = (
        ("submission to ExecutionStarted", submitted, rows["execution_started"], "0.6"),
        ("Wait state", rows["execution_started"], waited_until, "tab:blue"),
        ("task and Lambda function", waited_until, acted_until, "tab:green"),
    )
    for label, begin, end, color in segments:
        _draw_segments(axes, begin, end, color, label)
    # The action often takes a few ms, too short for its bar to show.
    axes.scatter(acted_until, rows.index, marker=".", s=30, color="tab:green",
                 label="execution ended", zorder=3)  # fmt: skip
    axes.scatter(rows["due"], rows.index, marker="|", s=120, color="black",
                 label="due date", zorder=3)  # fmt: skip
    axes.set_yticks(rows.index, rows["id"].str.slice(0, 18), fontsize=7)
    axes.invert_yaxis()
    _format_time_axis(axes.xaxis)
    axes.set_xlabel("time (UTC, HH:MM:SS)")
    axes.set_ylabel("event id")
    shown = f"{len(rows)} of {len(table)}" if len(table) > limit else f"{len(rows)}"
    axes.set_title(f"Timeline of {shown} executions on {_on(target)}")
    figure.legend(loc="outside lower center", ncol=5, fontsize=8)
    return figure


def _draw_segments(
    axes: Axes, begin: pd.Series, end: pd.Series, color: str, label: str
) -> None:
    present = begin.notna() & end.notna()
    if not present.any():
        return
    starts = mdates.date2num(begin[present].dt.tz_convert(UTC).dt.tz_localize(None))
    stops = mdates.date2num(end[present].dt.tz_convert(UTC).dt.tz_localize(None))
    axes.barh(begin[present].index, stops - starts, left=starts, height=0.6,
              color=color, label=label)  # fmt: skip


FIGURES: dict[str, Callable[[pd.DataFrame, str], Figure]] = {
    "due_vs_actual": plot_due_vs_actual,
    "lateness_histogram": plot_lateness_histogram,
    "lateness_ecdf": plot_lateness_ecdf,
    "lateness_vs_lead_time": plot_lateness_vs_lead_time,
    "timeline": plot_timeline,
}


def draw_figures(table: pd.DataFrame, target: str) -> dict[str, Figure]:
    """Draw every figure of :data:`FIGURES`; map its name to the Figure."""
    return {name: draw(table, target) for name, draw in FIGURES.items()}


def save_figures(figures: dict[str, Figure], directory: Path) -> list[Path]:
    """Save each figure as ``<directory>/<name>.png``; return the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = directory / f"{name}.png"
        figure.savefig(path)
        logger.debug("saved %s", path)
        paths.append(path)
    return paths


def save_run_figures(table: pd.DataFrame, run_dir: Path, target: str) -> list[Path]:
    """Draw every figure of a run and save it as a PNG under ``run_dir``."""
    return save_figures(draw_figures(table, target), Path(run_dir))
