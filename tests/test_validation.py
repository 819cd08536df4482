"""The client-side event check: the API's model plus the rules it cannot express."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from helpers import validation
from helpers.validation import check_event

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC).timestamp()
FUTURE = "2026-12-05T12:00:00Z"
FORBIDDEN_ID_CHARACTERS = list('<>{}[]?*"#%\\^|~`$&,;:/')


def test_check_accepts_canonical_due_date():
    checked = check_event(FUTURE, {"k": 1}, "evt-1", now=NOW)

    assert checked.due_date == FUTURE
    assert checked.due_date_truncated == FUTURE
    assert checked.notes == ()
    assert checked.overdue is False


def test_check_body_text_is_the_json_body():
    checked = check_event(FUTURE, {"k": [1, 2.5]}, "evt-1", now=NOW)

    assert json.loads(checked.body_text) == {
        "dueDate": FUTURE,
        "data": {"k": [1, 2.5]},
        "id": "evt-1",
    }


def test_check_converts_aware_datetime_to_utc():
    due = datetime(2026, 12, 5, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))

    assert check_event(due, now=NOW).due_date == FUTURE


def test_check_rejects_naive_datetime():
    with pytest.raises(validation.NaiveDatetimeError, match="no time zone") as caught:
        check_event(datetime(2026, 12, 5, 12), now=NOW)

    assert caught.value.field == "dueDate"
    assert caught.value.rule == "timezone"


def test_check_rejects_missing_due_date():
    with pytest.raises(validation.MissingFieldError) as caught:
        check_event(None, now=NOW)

    assert caught.value.field == "dueDate"
    assert caught.value.rule == "required"


def test_check_rejects_numeric_due_date():
    with pytest.raises(validation.InvalidTypeError) as caught:
        check_event(1788000000, now=NOW)

    assert caught.value.field == "dueDate"
    assert caught.value.rule == "type"


@pytest.mark.parametrize(
    "due_date",
    [
        "2026-12-05T12:00:00+00:00",
        "2026-12-05T12:00:00z",
        "2026-12-05t12:00:00Z",
        "2026-12-05T12:00Z",
        "2026-12-05 12:00:00Z",
        "2026-12-05T12:00:00.Z",
        "2026-12-05T12:00:00Z\n",
    ],
)
def test_check_rejects_non_canonical_due_date(due_date):
    with pytest.raises(validation.InvalidDueDateError) as caught:
        check_event(due_date, now=NOW)

    assert caught.value.field == "dueDate"
    assert caught.value.rule == "format"


def test_check_rejects_february_30():
    with pytest.raises(validation.InvalidCalendarDateError) as caught:
        check_event("2027-02-30T00:00:00Z", now=NOW)

    assert caught.value.rule == "calendarDate"


def test_check_allows_exactly_365_days_ahead():
    latest = datetime.fromtimestamp(NOW + 365 * 86400, UTC)

    checked = check_event(latest, now=NOW)

    assert checked.due_date == f"{latest:%Y-%m-%dT%H:%M:%S}Z"


def test_check_rejects_more_than_365_days_ahead():
    too_late = datetime.fromtimestamp(NOW + 365 * 86400 + 1, UTC)

    with pytest.raises(validation.DueDateTooFarError, match="365 days") as caught:
        check_event(too_late, now=NOW)

    assert caught.value.field == "dueDate"
    assert caught.value.rule == "maxDaysAhead"


def test_check_notes_fractional_seconds():
    checked = check_event("2026-12-05T12:00:00.750Z", now=NOW)

    assert checked.due_date == "2026-12-05T12:00:00.750Z"
    assert checked.due_date_truncated == FUTURE
    assert "truncates" in checked.notes[0]


def test_check_keeps_datetime_microseconds_as_fraction():
    due = datetime(2026, 12, 5, 12, 0, 0, 250000, tzinfo=UTC)

    checked = check_event(due, now=NOW)

    assert checked.due_date == "2026-12-05T12:00:00.25Z"
    assert checked.due_date_truncated == FUTURE


def test_check_marks_past_due_date_overdue():
    checked = check_event("2026-12-04T11:59:59Z", now=NOW)

    assert checked.overdue is True
    assert "fires at once" in checked.notes[0]


def test_check_due_date_now_is_overdue():
    assert check_event("2026-12-04T12:00:00Z", now=NOW).overdue is True


def test_check_rejects_id_over_80_characters():
    with pytest.raises(validation.InvalidIdError, match="81 characters") as caught:
        check_event(FUTURE, id="x" * 81, now=NOW)

    assert caught.value.field == "id"


def test_check_accepts_id_of_80_characters():
    assert check_event(FUTURE, id="x" * 80, now=NOW).id == "x" * 80


@pytest.mark.parametrize("character", FORBIDDEN_ID_CHARACTERS)
def test_check_rejects_forbidden_id_character(character):
    with pytest.raises(validation.InvalidIdError, match="forbidden") as caught:
        check_event(FUTURE, id=f"a{character}b", now=NOW)

    assert caught.value.field == "id"


@pytest.mark.parametrize("character", [" ", "\t", "\n", "\u00a0", "\u2003"])
def test_check_rejects_whitespace_in_id(character):
    with pytest.raises(validation.InvalidIdError):
        check_event(FUTURE, id=f"a{character}b", now=NOW)


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\x7f", "\x85", "\x9f"])
def test_check_rejects_control_character_in_id(character):
    with pytest.raises(validation.InvalidIdError):
        check_event(FUTURE, id=f"a{character}b", now=NOW)


@pytest.mark.parametrize("id", [".", ".."])
def test_check_rejects_dot_segment_id(id):
    with pytest.raises(validation.ValidationError) as raised:
        check_event(FUTURE, None, id, now=NOW)

    assert raised.value.field == "id"
    assert raised.value.rule == "pathSegment"


def test_check_accepts_id_of_three_dots():
    assert check_event(FUTURE, None, "...", now=NOW).id == "..."


def test_check_rejects_byte_order_mark_in_id():
    with pytest.raises(validation.InvalidIdError) as raised:
        check_event(FUTURE, None, "a\ufeffb", now=NOW)

    assert "\\ufeff" in str(raised.value)


def test_check_rejects_year_0000():
    with pytest.raises(validation.InvalidCalendarDateError):
        check_event("0000-01-01T00:00:00Z", now=NOW)


def test_check_rejects_empty_id():
    with pytest.raises(validation.InvalidIdError):
        check_event(FUTURE, id="", now=NOW)


def test_check_rejects_input_over_256_kib_of_utf8():
    # 100,000 characters of 3 bytes each: under 256 Ki characters, over 256 KiB.
    data = "€" * 100_000

    with pytest.raises(validation.InputTooLargeError, match="bytes") as caught:
        check_event(FUTURE, data, now=NOW)

    assert caught.value.field == "data"
    assert caught.value.rule == "maxInputBytes"


def test_check_rejects_nan_in_data():
    with pytest.raises(validation.InvalidTypeError) as caught:
        check_event(FUTURE, {"x": float("nan")}, now=NOW)

    assert caught.value.field == "data"


def test_check_rejects_unserialisable_data():
    with pytest.raises(validation.InvalidTypeError):
        check_event(FUTURE, {"x": object()}, now=NOW)


def test_validation_error_message_names_field():
    error = validation.DueDateTooFarError("dueDate", "too far")

    assert str(error) == "dueDate: too far"


@pytest.mark.parametrize(
    ("id", "data", "field"), [("a\ud800", None, "id"), ("ok", "\udc00", "data")]
)
def test_check_rejects_lone_surrogate(id, data, field):
    with pytest.raises(validation.InvalidTypeError) as raised:
        check_event(FUTURE, data, id, now=NOW)

    assert raised.value.field == field
    assert "surrogate" in str(raised.value)
