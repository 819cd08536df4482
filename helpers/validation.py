"""Check an event on the client before it is sent, with the API's own rules.

The body is checked against the API's model (``deploy/api/event.schema.json``).
It is then checked against the rules that the request template or Step
Functions enforce and the schema cannot express. The due date must be a
calendar date at most 365 days ahead, the execution input at most 256 KiB of
UTF-8, and the id a valid execution name. Two cases are accepted with a
note: fractional seconds, which Step Functions truncates, and a due date
already past, which fires at once.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jsonschema

from helpers import artifacts, limits

# A standard execution runs for at most one year, so the API rejects a due
# date more than 365 days (31,536,000 s) after the request.
MAX_DAYS_AHEAD = 365
MAX_SECONDS_AHEAD = MAX_DAYS_AHEAD * 86400

CANONICAL_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Ids the model rejects although Step Functions accepts them as names.
DOT_SEGMENTS = (".", "..")


class ValidationError(ValueError):
    """An event that the API would reject; names the field and the rule."""

    rule = "schema"

    def __init__(self, field: str, message: str, rule: str | None = None):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        if rule is not None:
            self.rule = rule


class MissingFieldError(ValidationError):
    """A required field is missing or null."""

    rule = "required"


class InvalidTypeError(ValidationError):
    """A field has the wrong JSON type, or data is not JSON-serialisable."""

    rule = "type"


class InvalidDueDateError(ValidationError):
    """dueDate is not an RFC 3339 UTC timestamp of the form the Wait state reads."""

    rule = "format"


class NaiveDatetimeError(InvalidDueDateError):
    """dueDate is a datetime without a time zone, so its instant is unknown."""

    rule = "timezone"


class InvalidCalendarDateError(InvalidDueDateError):
    """dueDate has the right form but names a day that does not exist."""

    rule = "calendarDate"


class DueDateTooFarError(ValidationError):
    """dueDate is more than 365 days ahead."""

    rule = "maxDaysAhead"


class InvalidIdError(ValidationError):
    """The id is not a valid execution name."""

    rule = "executionName"


class InputTooLargeError(ValidationError):
    """The body, which becomes the execution input, exceeds 256 KiB of UTF-8."""

    rule = "maxInputBytes"


@dataclass(frozen=True)
class CheckedEvent:
    """An event that passed every check, with the exact body text to send."""

    body: dict[str, Any]
    body_text: str
    due_date: str
    due_date_truncated: str
    id: str | None
    overdue: bool
    notes: tuple[str, ...] = field(default=())


def ecma_pattern(pattern: str) -> str:
    """Translate an ECMA 262 regex to Python: ``$`` becomes ``\\Z``.

    JSON Schema patterns are ECMA 262, where ``$`` matches only at the end of
    the input. Python's ``$`` also matches before a final newline, so
    ``"2026-08-28T15:00:00Z\\n"`` would pass the dueDate pattern.
    """
    translated, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = "\\Z"
        translated.append(char)
    return "".join(translated)


def _ecma_pattern_keyword(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not re.search(
        ecma_pattern(pattern), instance
    ):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 4 with ECMA 262 semantics for the pattern keyword, as the standard requires.
EcmaDraft4Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"pattern": _ecma_pattern_keyword}
)


def model_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """Compile a draft 4 JSON Schema as API Gateway validates models."""
    EcmaDraft4Validator.check_schema(schema)
    return EcmaDraft4Validator(schema)


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    return model_validator(artifacts.event_schema())


def canonical_due_date(due_date: datetime | str) -> str:
    """Return the dueDate string to send: a datetime becomes UTC with a ``Z``.

    Raises NaiveDatetimeError for a datetime without a time zone. A datetime
    keeps its microseconds as a fraction, which the API accepts with a note.
    Strings are returned unchanged for the schema check.
    """
    if isinstance(due_date, str):
        return due_date
    if not isinstance(due_date, datetime):
        return due_date  # the schema check reports the type
    if due_date.tzinfo is None or due_date.utcoffset() is None:
        raise NaiveDatetimeError(
            "dueDate",
            f"the datetime {due_date.isoformat()} has no time zone; pass an aware "
            "datetime such as datetime(2026, 8, 28, 15, tzinfo=UTC)",
        )
    moment = due_date.astimezone(UTC)
    if moment.microsecond:
        fraction = f"{moment.microsecond:06d}".rstrip("0")
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction}Z"
    return moment.strftime(CANONICAL_FORMAT)


def _schema_error(error: jsonschema.ValidationError) -> ValidationError:
    """Turn the first schema violation into the ValidationError that names it."""
    if error.validator == "required":
        name = error.message.split("'")[1]
        return MissingFieldError(name, f"{name} is required")
    field_name = str(error.path[0]) if error.path else "body"
    if field_name == "dueDate" and error.validator == "type" and error.instance is None:
        return MissingFieldError("dueDate", "dueDate is null; it is required")
    if error.validator == "type":
        return InvalidTypeError(field_name, error.message)
    if field_name == "dueDate":
        return InvalidDueDateError(
            "dueDate",
            f"{error.instance!r} is not of the form 2026-08-28T15:00:00Z (UTC, "
            "uppercase T and Z, whole seconds with an optional fraction)",
        )
    if field_name == "id" and error.instance in DOT_SEGMENTS:
        return ValidationError(
            "id",
            f"invalid id {error.instance!r}: HTTP clients drop a . or .. segment "
            "from the path of /events/{id}, so the event could not be read or "
            "cancelled",
            rule="pathSegment",
        )
    if field_name == "id":
        problem = limits.execution_name_problem(error.instance) or error.message
        return InvalidIdError("id", f"invalid id {error.instance!r}: {problem}")
    return ValidationError(field_name, error.message, rule=str(error.validator))


def _check_schema(body: dict[str, Any]) -> None:
    errors = sorted(_schema_validator().iter_errors(body), key=lambda e: list(e.path))
    if errors:
        raise _schema_error(errors[0])


def _parse_due_date(due_date: str) -> datetime:
    """Parse a dueDate that matched the schema; raise for a day that does not exist."""
    whole_seconds = due_date[:19]
    try:
        moment = datetime.strptime(whole_seconds, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidCalendarDateError(
            "dueDate", f"{due_date!r} is not a calendar date"
        ) from None
    return moment.replace(tzinfo=UTC)


def _encode_body(body: dict[str, Any]) -> str:
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidTypeError(
            "data", f"data is not JSON-serialisable: {error}", rule="json"
        ) from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        field_name = "id" if not encodes_as_utf8(body.get("id")) else "data"
        raise InvalidTypeError(
            field_name,
            f"{field_name} has a lone UTF-16 surrogate such as '\\ud800', which is "
            "not a Unicode character and cannot be sent as UTF-8",
            rule="json",
        ) from None
    return text


def encodes_as_utf8(value: Any) -> bool:
    """Tell whether a JSON value has no lone surrogate, so it encodes as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _timing_notes(due: str, truncated: datetime, now_s: float) -> tuple[list, bool]:
    notes = []
    if len(due) > 20:
        notes.append(
            f"Step Functions truncates dueDate to whole seconds: the event fires "
            f"at {truncated:{CANONICAL_FORMAT}}"
        )
    overdue = truncated.timestamp() <= now_s
    if overdue:
        notes.append("dueDate has passed: the event fires at once")
    return notes, overdue


def _check_due_date(due: str, now_s: float) -> datetime:
    """Return the due date truncated to the second, at most 365 days ahead."""
    truncated = _parse_due_date(due)
    latest = math.floor(now_s) + MAX_SECONDS_AHEAD
    if truncated.timestamp() > latest:
        raise DueDateTooFarError(
            "dueDate",
            f"{due} is more than {MAX_DAYS_AHEAD} days ahead (latest "
            f"{datetime.fromtimestamp(latest, UTC):{CANONICAL_FORMAT}}): a standard "
            "execution ends after one year",
        )
    return truncated


def check_event(
    due_date: datetime | str,
    data: Any = None,
    id: str | None = None,
    now: float | None = None,
) -> CheckedEvent:
    """Check an event as the API would; return the body to send or raise.

    ``now`` is the request time in epoch seconds (default: the clock). Raises
    a :class:`ValidationError` subclass whose ``field`` and ``rule`` name the
    failed check.
    """
    body: dict[str, Any] = {"dueDate": canonical_due_date(due_date), "data": data}
    if id is not None:
        body["id"] = id
    _check_schema(body)
    if id is not None and (problem := limits.execution_name_problem(id)):
        raise InvalidIdError("id", f"invalid id {id!r}: {problem}")
    now_s = time.time() if now is None else now
    truncated = _check_due_date(body["dueDate"], now_s)

    body_text = _encode_body(body)
    if problem := limits.execution_input_problem(body_text):
        raise InputTooLargeError("data", problem)
    notes, overdue = _timing_notes(body["dueDate"], truncated, now_s)
    return CheckedEvent(
        body=body,
        body_text=body_text,
        due_date=body["dueDate"],
        due_date_truncated=truncated.strftime(CANONICAL_FORMAT),
        id=id,
        overdue=overdue,
        notes=tuple(notes),
    )
