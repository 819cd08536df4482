"""Helpers of the timestamp-triggered events lab: deploy, fire, measure, plot."""

from helpers.emulator import EmulatorError, LocalLab
from helpers.stack import (
    StackError,
    StackOutputs,
    StackPlan,
    deploy_stack,
    describe_stack,
    plan_stack,
    teardown_stack,
)
from helpers.target import Target, make_target

__all__ = [
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
