"""The action function's handler, called directly: the emulator never runs its code."""

from __future__ import annotations

import importlib.util
import logging
from datetime import UTC, datetime

import pytest

from helpers.artifacts import DEPLOY_DIR


@pytest.fixture(scope="module")
def handler_module():
    spec = importlib.util.spec_from_file_location(
        "action_handler", DEPLOY_DIR / "lambda" / "handler.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_handler_reports_lateness_against_due_date(handler_module):
    ran_at = datetime(2026, 8, 28, 15, 0, 0, 250000, tzinfo=UTC)
    event = {"dueDate": "2026-08-28T15:00:00Z", "data": {"user": 7}, "id": "e1"}

    result = handler_module.handler(event, None, now=ran_at)

    assert result["handlerTime"] == "2026-08-28T15:00:00.250000Z"
    assert result["handlerLatenessMs"] == 250.0
    assert result["dueDate"] == "2026-08-28T15:00:00Z"
    assert result["data"] == {"user": 7}
    assert result["id"] == "e1"


def test_handler_reports_early_run_as_negative(handler_module):
    ran_at = datetime(2026, 8, 28, 14, 59, 59, 500000, tzinfo=UTC)

    result = handler_module.handler({"dueDate": "2026-08-28T15:00:00Z"}, None, ran_at)

    assert result["handlerLatenessMs"] == -500.0


def test_handler_parses_fractional_due_date(handler_module):
    ran_at = datetime(2026, 8, 28, 15, 0, 1, tzinfo=UTC)

    result = handler_module.handler({"dueDate": "2026-08-28T15:00:00.5Z"}, None, ran_at)

    assert result["handlerLatenessMs"] == 500.0


def test_handler_logs_due_and_actual_time(handler_module, caplog):
    ran_at = datetime(2026, 8, 28, 15, 0, 0, tzinfo=UTC)

    with caplog.at_level(logging.INFO):
        handler_module.handler({"dueDate": "2026-08-28T15:00:00Z"}, None, ran_at)

    assert '"dueDate": "2026-08-28T15:00:00Z"' in caplog.text
    assert '"handlerTime": "2026-08-28T15:00:00.000000Z"' in caplog.text


def test_handler_uses_clock_when_not_injected(handler_module):
    before = datetime.now(UTC)

    result = handler_module.handler({"dueDate": "2026-08-28T15:00:00Z"}, None)

    ran_at = datetime.fromisoformat(result["handlerTime"].replace("Z", "+00:00"))
    assert before <= ran_at <= datetime.now(UTC)
