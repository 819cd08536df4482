"""Firing, cancelling, rescheduling and batching events over HTTP on the local lab."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter

from helpers import events, validation
from helpers.events import (
    EventConflictError,
    EventError,
    EventNotFoundError,
    cancel_event,
    fire_batch,
    fire_event,
    get_event,
    make_endpoint,
    reschedule_event,
    spread_due_dates,
)


def _due_in(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.strftime(validation.CANONICAL_FORMAT)


def _execution_names(target, stack) -> list[str]:
    client = target.client("stepfunctions")
    pages = client.get_paginator("list_executions").paginate(
        stateMachineArn=stack.state_machine_arn
    )
    return [e["name"] for page in pages for e in page["executions"]]


def _wait_until_closed(endpoint, event_id: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while (status := get_event(endpoint, event_id)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{event_id} still runs"
        time.sleep(0.2)
    return status


@pytest.fixture(scope="module")
def endpoint(target, stack):
    return make_endpoint(target, stack)


class ScriptedAdapter(HTTPAdapter):
    """An HTTP transport that fakes the response of some attempts.

    ``script`` lists, per attempt, a status to return without sending, or
    ``("after", status)`` to send the request and then replace its response,
    as a proxy that lost the response would. Attempts past the script are
    sent unchanged.
    """

    def __init__(self, script: list):
        super().__init__()
        self.script = list(script)
        self.attempts = 0

    def send(self, request, **kwargs):
        self.attempts += 1
        step = self.script.pop(0) if self.script else None
        if isinstance(step, tuple):
            super().send(request, **kwargs)
            return _fake_response(request, step[1])
        if step is not None:
            return _fake_response(request, step)
        return super().send(request, **kwargs)


def _fake_response(request, status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"message": "scripted"}'
    response.headers["Content-Type"] = "application/json"
    response.request = request
    response.url = request.url
    return response


def _scripted_endpoint(target, stack, script: list):
    endpoint = make_endpoint(target, stack)
    adapter = ScriptedAdapter(script)
    endpoint.session.mount("http://", adapter)
    sleeps: list[float] = []
    endpoint.sleep = sleeps.append
    return endpoint, adapter, sleeps


# --- one event -------------------------------------------------------------------


def test_fire_returns_scheduled_event(endpoint, event_id):
    due = _due_in(3600)

    fired = fire_event(endpoint, due, {"n": 1}, event_id)

    assert fired.id == event_id
    assert fired.execution_arn.endswith(f":{event_id}")
    assert fired.due_date == due
    assert fired.due_date_truncated == due
    assert fired.submitted_at.tzinfo is not None
    assert fired.overdue is False
    assert fired.notes == []


def test_fire_without_id_uses_api_request_id(endpoint):
    fired = fire_event(endpoint, _due_in(3600), {"n": 1})

    assert uuid.UUID(fired.id).version == 4


def test_fire_rejects_offset_timestamp_before_sending(endpoint, target, stack):
    before = len(_execution_names(target, stack))

    with pytest.raises(validation.InvalidDueDateError):
        fire_event(endpoint, "2026-12-31T15:00:00+00:00", {})

    assert len(_execution_names(target, stack)) == before


def test_fire_notes_fractional_seconds(endpoint, event_id):
    due = _due_in(3600)

    fired = fire_event(endpoint, due[:-1] + ".5Z", None, event_id)

    assert fired.due_date_truncated == due
    assert "truncates" in fired.notes[0]


def test_fire_marks_past_due_event_overdue(endpoint, event_id):
    fired = fire_event(endpoint, _due_in(-5), None, event_id)

    assert fired.overdue is True
    assert _wait_until_closed(endpoint, event_id) == "SUCCEEDED"


def test_fire_same_id_other_data_raises_conflict(endpoint, event_id):
    due = _due_in(3600)
    fire_event(endpoint, due, {"n": 1}, event_id)

    with pytest.raises(EventConflictError) as caught:
        fire_event(endpoint, due, {"n": 2}, event_id)

    assert caught.value.status == 409
    assert caught.value.field == "id"


def test_get_unknown_event_raises_not_found(endpoint):
    with pytest.raises(EventNotFoundError):
        get_event(endpoint, f"missing-{uuid.uuid4()}")


def test_cancel_pending_event_aborts_it(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)

    result = cancel_event(endpoint, event_id)

    assert result.cancelled is True
    assert result.status == "ABORTED"
    assert result.stop_requested is True


def test_cancel_fired_event_is_not_cancelled(endpoint, event_id):
    fire_event(endpoint, _due_in(-5), None, event_id)
    _wait_until_closed(endpoint, event_id)

    result = cancel_event(endpoint, event_id)

    assert result.cancelled is False
    assert result.status == "SUCCEEDED"


def test_delete_twice_answers_same_body(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)
    url = f"{endpoint.events_url}/{event_id}"

    first = endpoint.session.delete(url)
    second = endpoint.session.delete(url)

    assert first.status_code == 200
    assert second.status_code == 200
    assert first.json() == {"stopRequested": True}
    assert second.json() == {"stopRequested": True}


def test_cancel_unknown_event_raises_not_found(endpoint):
    with pytest.raises(EventNotFoundError):
        cancel_event(endpoint, f"missing-{uuid.uuid4()}")


def test_reschedule_cancels_and_fires_new_id(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), {"v": 1}, event_id)
    later = _due_in(7200)

    cancelled, fired = reschedule_event(endpoint, event_id, later)

    assert cancelled.cancelled is True
    assert fired.id != event_id
    assert fired.id.startswith(event_id)
    assert get_event(endpoint, fired.id)["dueDate"] == later
    assert get_event(endpoint, fired.id)["data"] == {"v": 1}


def test_reschedule_replaces_data_when_given(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), {"v": 1}, event_id)

    _, fired = reschedule_event(endpoint, event_id, _due_in(7200), {"v": 2})

    assert get_event(endpoint, fired.id)["data"] == {"v": 2}


def test_reschedule_fired_event_raises(endpoint, event_id):
    fire_event(endpoint, _due_in(-5), None, event_id)
    _wait_until_closed(endpoint, event_id)

    with pytest.raises(EventError, match="not rescheduled"):
        reschedule_event(endpoint, event_id, _due_in(3600))


def test_reschedule_checks_new_due_date_before_cancelling(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)

    with pytest.raises(validation.DueDateTooFarError):
        reschedule_event(endpoint, event_id, _due_in(400 * 86400))

    assert get_event(endpoint, event_id)["status"] == "RUNNING"


# --- retries ---------------------------------------------------------------------


def test_fire_retries_throttling_then_succeeds(target, stack, event_id):
    endpoint, adapter, sleeps = _scripted_endpoint(target, stack, [429, 429])

    fired = fire_event(endpoint, _due_in(3600), None, event_id)

    assert fired.attempts == 3
    assert adapter.attempts == 3
    assert len(sleeps) == 2
    assert 0.125 <= sleeps[0] <= 0.25
    assert 0.25 <= sleeps[1] <= 0.5


def test_fire_retry_after_lost_answer_starts_one_execution(target, stack, event_id):
    endpoint, adapter, _ = _scripted_endpoint(target, stack, [("after", 502)])

    fired = fire_event(endpoint, _due_in(3600), {"n": 1}, event_id)

    assert adapter.attempts == 2
    assert fired.execution_arn.endswith(f":{event_id}")
    assert _execution_names(target, stack).count(event_id) == 1


def test_fire_without_id_does_not_retry_5xx(target, stack):
    endpoint, adapter, _ = _scripted_endpoint(target, stack, [502])

    with pytest.raises(EventError) as caught:
        fire_event(endpoint, _due_in(3600), None)

    assert caught.value.status == 502
    assert adapter.attempts == 1


def test_get_event_retries_throttling(target, stack, endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)
    scripted, adapter, sleeps = _scripted_endpoint(target, stack, [429, 503])

    answer = get_event(scripted, event_id)

    assert answer["status"] == "RUNNING"
    assert adapter.attempts == 3
    assert len(sleeps) == 2


def test_cancel_event_retries_throttled_delete(target, stack, endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)
    scripted, adapter, _ = _scripted_endpoint(target, stack, [("after", 429)])

    result = cancel_event(scripted, event_id)

    assert result.cancelled is True
    assert adapter.attempts == 3


def test_wait_for_events_paces_polls_on_aws(target, stack, endpoint):
    batch = [{"dueDate": _due_in(-5)}, {"dueDate": _due_in(-5)}]
    fired = fire_batch(endpoint, batch, progress=False)
    aws_endpoint = make_endpoint(target, stack)
    aws_endpoint.target = dataclasses.replace(target, kind="aws")
    sleeps: list[float] = []

    finished = events.wait_for_events(
        aws_endpoint, fired, poll_s=0.5, progress=False, sleep=sleeps.append
    )

    assert finished["finalStatus"].tolist() == ["SUCCEEDED", "SUCCEEDED"]
    # The second GET of a round waits for a token, at most 1 / 8 per second =
    # 0.125 s. The fake sleep lets no time pass, so later waits grow.
    paced = [s for s in sleeps if s != 0.5]
    assert paced
    assert 0 < paced[0] <= 1 / events.AWS_DESCRIBE_REQUESTS_PER_SECOND


def test_fire_gives_up_after_max_attempts(target, stack, event_id):
    script = [503] * events.MAX_ATTEMPTS
    endpoint, adapter, sleeps = _scripted_endpoint(target, stack, script)

    with pytest.raises(EventError):
        fire_event(endpoint, _due_in(3600), None, event_id)

    assert adapter.attempts == events.MAX_ATTEMPTS
    assert len(sleeps) == events.MAX_ATTEMPTS - 1


def test_send_with_retry_retries_throttling_error_type():
    throttled = _fake_response(requests.Request("POST", "http://x").prepare(), 400)
    throttled.headers["x-amzn-ErrorType"] = "ThrottlingException"
    accepted = _fake_response(requests.Request("POST", "http://x").prepare(), 200)
    answers = iter([throttled, accepted])

    response, attempts = events.send_with_retry(
        lambda: next(answers), sleep=lambda s: None, jitter=lambda d: d
    )

    assert response.status_code == 200
    assert attempts == 2


# --- batches ---------------------------------------------------------------------


class CountingAdapter(HTTPAdapter):
    """Send requests as usual and record the most that were in flight at once."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def send(self, request, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(0.01)  # widen the overlap so that a missing bound shows
            return super().send(request, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_batch_keeps_concurrency_bounded(target, stack):
    endpoint = make_endpoint(target, stack)
    adapter = CountingAdapter(pool_maxsize=16)
    endpoint.session.mount("http://", adapter)
    batch = [{"dueDate": d} for d in spread_due_dates(40, 60, 3600)]

    frame = fire_batch(endpoint, batch, max_workers=4, progress=False)

    assert (frame["outcome"] == "scheduled").all()
    assert adapter.max_in_flight <= 4
    assert adapter.max_in_flight >= 2


def test_batch_bad_event_fails_alone_with_reason(endpoint):
    due_dates = spread_due_dates(5, 10, 3600)
    batch = [{"dueDate": d, "data": {"i": i}} for i, d in enumerate(due_dates)]
    batch[2]["dueDate"] = "2026-12-31T15:00:00+00:00"

    frame = fire_batch(endpoint, batch, max_workers=3, progress=False)

    assert (
        list(frame["outcome"]) == ["scheduled"] * 2 + ["rejected"] + ["scheduled"] * 2
    )
    assert "dueDate" in frame.loc[2, "error"]
    assert frame.loc[[0, 1, 3, 4], "error"].isna().all()


def test_batch_event_rejected_by_api_carries_status(endpoint, event_id):
    fire_event(endpoint, _due_in(3600), {"v": 1}, event_id)
    batch = [{"dueDate": _due_in(3600), "data": {"v": 2}, "id": event_id}]

    frame = fire_batch(endpoint, batch, progress=False)

    assert frame.loc[0, "outcome"] == "rejected"
    assert frame.loc[0, "httpStatus"] == 409


def test_batch_frame_has_documented_columns(endpoint):
    frame = fire_batch(endpoint, [{"dueDate": _due_in(3600)}], progress=False)

    assert list(frame.columns) == events.BATCH_COLUMNS
    assert str(frame["submittedAt"].dt.tz) == "UTC"
    assert frame["overdue"].dtype == bool


def test_batch_retries_keep_id_and_start_one_execution(target, stack):
    endpoint, adapter, _ = _scripted_endpoint(target, stack, [("after", 503), 429])
    event_id = f"batch-{uuid.uuid4()}"

    frame = fire_batch(
        endpoint, [{"dueDate": _due_in(3600), "id": event_id}], progress=False
    )

    assert frame.loc[0, "outcome"] == "scheduled"
    assert frame.loc[0, "attempts"] == 3
    assert _execution_names(target, stack).count(event_id) == 1


def test_wait_for_events_reports_final_status(endpoint):
    batch = [{"dueDate": _due_in(-2)}, {"dueDate": _due_in(-1)}]
    frame = fire_batch(endpoint, batch, progress=False)

    finished = events.wait_for_events(
        endpoint, frame, timeout_s=60, poll_s=0.2, progress=False
    )

    assert list(finished["finalStatus"]) == ["SUCCEEDED", "SUCCEEDED"]


def test_pending_executions_lists_running_event(target, stack, endpoint, event_id):
    fire_event(endpoint, _due_in(3600), None, event_id)

    pending = events.pending_executions(target, stack)

    assert event_id in set(pending["id"])


# --- due dates and saved runs ------------------------------------------------------


def test_spread_due_dates_covers_window():
    now = datetime(2026, 12, 4, 12, 0, 0, 400000, tzinfo=UTC)

    due_dates = spread_due_dates(5, 60, 30, now=now)

    assert due_dates[0] == "2026-12-04T12:00:31Z"
    assert due_dates[-1] == "2026-12-04T12:01:31Z"
    assert due_dates == sorted(due_dates)
    assert len(due_dates) == 5


def test_spread_due_dates_single_event_at_lead():
    now = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)

    assert spread_due_dates(1, 60, 10, now=now) == ["2026-12-04T12:00:10Z"]


def test_save_and_load_run_round_trip(target, stack, endpoint, tmp_path):
    frame = fire_batch(endpoint, [{"dueDate": _due_in(3600)}], progress=False)

    folder = events.save_run("run-1", frame, target, stack, results_dir=tmp_path)
    loaded, description = events.load_run("run-1", results_dir=tmp_path)

    assert folder == tmp_path / "run-1"
    assert description["stateMachineArn"] == stack.state_machine_arn
    assert description["stackName"] == stack.stack_name
    assert description["region"] == target.region
    assert description["target"] == "local emulator"
    pd.testing.assert_series_equal(loaded["submittedAt"], frame["submittedAt"])
    assert list(loaded["id"]) == list(frame["id"])


def test_probe_bad_inputs_answers_every_case_with_4xx(endpoint):
    table = events.probe_bad_inputs(endpoint)

    assert len(table) == len(events.BAD_INPUTS)
    assert table["status"].between(400, 499).all()


@pytest.mark.parametrize("odd_id", ["it's", "a+b", "café-😀", "x=y!(z)@'"])
def test_get_and_cancel_event_with_odd_id(endpoint, odd_id):
    event_id = f"{odd_id}-{uuid.uuid4().hex[:8]}"
    fire_event(endpoint, _due_in(3600), {"n": 1}, event_id)

    fetched = get_event(endpoint, event_id)
    result = cancel_event(endpoint, event_id)

    assert fetched["id"] == event_id
    assert fetched["status"] == "RUNNING"
    assert result.cancelled is True
