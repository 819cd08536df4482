"""Figures of trigger latency: titles, labels, files, and no pyplot state."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from helpers.history import HISTORIES_FILE
from helpers.latency import latency_summary, latency_table, summarize_run
from helpers.plots import (
    FIGURES,
    LATENESS_CURVES,
    LOCAL_TARGET,
    draw_figures,
    plot_lateness_ecdf,
    plot_lateness_histogram,
    plot_timeline,
    save_run_figures,
)
from helpers.synthetic import synthetic_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table():
    run = synthetic_run(120, seed=7)
    return latency_table(run.histories, run.run_events)


@pytest.fixture(scope="module")
def aws_figures(table):
    return draw_figures(table, "AWS eu-west-1")


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_title_names_target(aws_figures, name):
    assert "AWS eu-west-1" in aws_figures[name].axes[0].get_title()


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_axes_have_units(aws_figures, name):
    axes = aws_figures[name].axes[0]

    for label in (axes.get_xlabel(), axes.get_ylabel()):
        assert label, name
    assert "(" in axes.get_xlabel(), name


def test_local_title_says_the_emulator(table):
    figure = plot_lateness_histogram(table, LOCAL_TARGET)

    assert figure.axes[0].get_title().endswith("on the local emulator")


def test_local_histogram_marks_emulator_rounding(table):
    figure = plot_lateness_histogram(table, LOCAL_TARGET)

    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "emulator rounds waits down to whole seconds" in labels


def test_aws_histogram_has_no_rounding_band(table):
    figure = plot_lateness_histogram(table, "AWS eu-west-1")

    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert "emulator rounds waits down to whole seconds" not in labels


def test_ecdf_long_tail_uses_symlog_scale(table):
    figure = plot_lateness_ecdf(table, "AWS eu-west-1")

    assert figure.axes[0].get_xscale() == "symlog"
    assert "symmetric log scale" in figure.axes[0].get_xlabel()


def test_ecdf_narrow_spread_uses_linear_scale(table):
    narrow = table.copy()
    steps = range(len(narrow))
    for column in LATENESS_CURVES:
        narrow[column] = [-400.0 + (i % 200) for i in steps]

    figure = plot_lateness_ecdf(narrow, LOCAL_TARGET)

    assert figure.axes[0].get_xscale() == "linear"
    assert "log" not in figure.axes[0].get_xlabel()


def test_ecdf_draws_coinciding_curves_distinctly(table):
    figure = plot_lateness_ecdf(table, "AWS eu-west-1")

    widths = [line.get_linewidth() for line in figure.axes[0].get_lines()[:3]]
    assert widths == sorted(widths, reverse=True)
    assert len(set(widths)) == 3


def test_timeline_legend_marks_execution_end(table):
    figure = plot_timeline(table, "AWS eu-west-1")

    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "execution ended" in labels
    assert "due date" in labels


def test_timeline_limits_rows(table):
    figure = plot_timeline(table, "AWS eu-west-1", limit=10)

    assert len(figure.axes[0].get_yticks()) == 10
    assert "10 of 120" in figure.axes[0].get_title()


def test_figures_leave_pyplot_empty(table):
    draw_figures(table, "AWS eu-west-1")

    assert plt.get_fignums() == []


def test_save_run_figures_writes_pngs(table, tmp_path):
    paths = save_run_figures(table, tmp_path, "AWS eu-west-1")

    assert [path.stem for path in paths] == list(FIGURES)
    for path in paths:
        assert path.read_bytes().startswith(PNG_SIGNATURE), path


def test_summarize_run_returns_summary_and_figures(tmp_path):
    run = synthetic_run(60, seed=8)
    lines = [history.to_json() for history in run.histories]
    (tmp_path / HISTORIES_FILE).write_text("\n".join(lines) + "\n")
    run.run_events.to_csv(tmp_path / "events.csv", index=False)
    (tmp_path / "run.json").write_text(json.dumps({"target": "AWS us-east-1"}))

    summary, paths = summarize_run(tmp_path)

    expected = latency_summary(latency_table(run.histories, run.run_events))
    assert summary.equals(expected)
    assert all(path.exists() for path in paths)
    assert len(paths) == len(FIGURES)
