"""The action of a scheduled event: record when it really ran, beside when it was due."""

import json
import logging
from datetime import UTC, datetime

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def parse_due_date(text: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp such as 2026-08-28T15:00:00Z or ...:00.250Z."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z"
    )


def handler(event, context, now=None):
    """Log and return the due time, the time the handler ran and the difference.

    ``now`` is injectable for tests; Lambda calls the handler with two arguments.
    """
    ran_at = now or datetime.now(UTC)
    due = parse_due_date(event["dueDate"])
    lateness_ms = (ran_at - due).total_seconds() * 1000
    result = {
        "id": event.get("id"),
        "dueDate": event["dueDate"],
        "handlerTime": format_timestamp(ran_at),
        "handlerLatenessMs": round(lateness_ms, 3),
        "data": event.get("data"),
    }
    logger.info(json.dumps(result))
    return result
