"""Helpers of the timestamp-triggered events lab: deploy, fire, measure, plot."""

from helpers.emulator import EmulatorError, LocalLab
from helpers.history import (
    CollectionResult,
    ExecutionHistory,
    HistoryError,
    TokenBucket,
    collect_histories,
    collect_run,
    collect_state_machine,
    read_histories,
)
from helpers.latency import (
    category_counts,
    latency_summary,
    latency_table,
    load_run_table,
    summarize_run,
)
from helpers.plots import draw_figures, save_figures, save_run_figures
from helpers.stack import (
    StackError,
    StackOutputs,
    StackPlan,
    deploy_stack,
    describe_stack,
    plan_stack,
    teardown_stack,
)
from helpers.synthetic import SyntheticRun, synthetic_run
from helpers.target import Target, make_target

__all__ = [
    "CollectionResult",
    "ExecutionHistory",
    "HistoryError",
    "SyntheticRun",
    "TokenBucket",
    "category_counts",
    "collect_histories",
    "collect_run",
    "collect_state_machine",
    "draw_figures",
    "latency_summary",
    "latency_table",
    "load_run_table",
    "read_histories",
    "save_figures",
    "save_run_figures",
    "summarize_run",
    "synthetic_run",
    "EmulatorError",
    "LocalLab",
    "StackError",
    "StackOutputs",
    "StackPlan",
    "Target",
    "deploy_stack",
    "describe_stack",
    "make_target",
    "plan_stack",
    "teardown_stack",
]
