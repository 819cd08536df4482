"""Estimate how long a run takes on AWS and what it costs, before running it.

A run fires N events through the REST API, each starting one standard
execution that waits and then invokes the action Lambda function once, and
later collects N execution histories. Time is bounded by the Step Functions
API quotas, because both StartExecution and GetExecutionHistory are throttled
per account and Region with a token bucket.

Everything here is an estimate from published list prices and default quotas,
which AWS may change and which the account may have raised. Free tiers are
not subtracted, and neither are volume tiers beyond the first.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass

import pandas as pd

logger = logging.getLogger(__name__)

PRICES_READ_ON = "2026-12-04"
SOURCES = (
    "https://aws.amazon.com/step-functions/pricing/",
    "https://aws.amazon.com/api-gateway/pricing/",
    "https://aws.amazon.com/lambda/pricing/",
    "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html",
)

# Step Functions service quotas, API action throttling: refill rates of the
# per-account, per-Region token buckets in requests per second.
START_EXECUTION_FAST_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
START_EXECUTION_REFILL_FAST = 300.0
START_EXECUTION_REFILL_OTHER = 150.0
GET_EXECUTION_HISTORY_REFILL = 20.0
# NOTE: an older version of the quotas page (awsdocs/aws-step-functions-
# developer-guide, limits.md) listed StartExecution at 200 and 25 per second
# and GetExecutionHistory at 5, so check the page before relying on a duration.

# Standard workflows: USD per 1,000 state transitions, from the pricing page's
# table by Region. Regions missing from the table get the US East price.
STATE_TRANSITION_USD_PER_1000 = {
    "us-east-1": 0.025,
    "us-east-2": 0.025,
    "us-west-1": 0.0279,
    "us-west-2": 0.025,
    "ca-central-1": 0.025,
    "sa-east-1": 0.0375,
    "us-gov-east-1": 0.03,
    "us-gov-west-1": 0.03,
    "eu-west-1": 0.025,
    "eu-central-1": 0.025,
    "eu-west-2": 0.025,
    "eu-west-3": 0.0297,
    "eu-north-1": 0.025,
    "ap-southeast-1": 0.025,
    "ap-northeast-1": 0.025,
    "ap-southeast-2": 0.025,
    "ap-northeast-2": 0.0271,
    "ap-south-1": 0.0285,
}
DEFAULT_STATE_TRANSITION_USD_PER_1000 = 0.025

# US East (N. Virginia) list prices; other Regions may differ.
REST_API_USD_PER_MILLION = 3.50  # first 333 million requests a month
LAMBDA_REQUEST_USD_PER_MILLION = 0.20
LAMBDA_USD_PER_GB_SECOND = 0.0000166667  # x86_64, the stack's architecture

# AWS counts a state transition each time a step of the workflow runs, and
# each retry as one more. The stack's state machine runs two steps: the Wait
# state WaitForDueDate and the Task state RunAction.
STATES_PER_EXECUTION = 2
LAMBDA_MEMORY_MB = 128  # the action function's MemorySize in helpers.stack

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")


@dataclass(frozen=True)
class RunEstimate:
    """Estimated duration and list-price cost of firing and collecting N events.

    Durations are the minimum that the default quotas allow, in seconds, and
    ignore the initial burst of each token bucket. Costs are in USD.
    """

    events: int
    region: str
    start_execution_per_s: float
    firing_s: float
    history_requests_per_s: float
    collecting_s: float
    state_transitions: int
    step_functions_usd: float
    api_gateway_usd: float
    lambda_requests_usd: float
    lambda_duration_usd: float
    total_usd: float
    assumptions: tuple[str, ...]
    prices_read_on: str = PRICES_READ_ON
    sources: tuple[str, ...] = SOURCES

    def to_frame(self) -> pd.DataFrame:
        """Return the estimate as a two-column table of quantity and value."""
        values = asdict(self)
        values["assumptions"] = "; ".join(self.assumptions)
        values["sources"] = " ".join(self.sources)
        frame = pd.DataFrame({"value": pd.Series(values, dtype=object)})
        frame.index.name = "quantity"
        return frame


def start_execution_refill(region: str) -> float:
    """Return the default StartExecution refill rate of ``region`` per second."""
    _check_region(region)
    if region in START_EXECUTION_FAST_REGIONS:
        return START_EXECUTION_REFILL_FAST
    return START_EXECUTION_REFILL_OTHER


def _check_region(region: str) -> None:
    if not _REGION.match(region):
        raise ValueError(
            f"invalid AWS Region {region!r}: expected a code such as 'us-east-1'"
        )


def estimate_run(
    events: int,
    region: str,
    *,
    lambda_duration_ms: float = 100.0,
    lambda_memory_mb: int = LAMBDA_MEMORY_MB,
    retries_per_event: float = 0.0,
    history_pages_per_event: int = 1,
    api_requests_per_event: float = 2.0,
) -> RunEstimate:
    """Estimate the duration and cost of firing and collecting ``events`` events.

    Parameters
    ----------
    lambda_duration_ms:
        Assumed billed duration of one invocation of the action function;
        Lambda bills it rounded up to the millisecond.
    retries_per_event:
        Assumed mean number of Lambda retries per event; each is one more
        state transition and one more invocation.
    history_pages_per_event:
        GetExecutionHistory requests per execution; one page contains up to
        1,000 events and an execution of this stack has about ten.
    api_requests_per_event:
        REST API requests per event: the POST, and at least one GET of
        :func:`helpers.events.wait_for_events` after the event is due. A
        cancellation adds a DELETE and a GET.
    """
    _check_arguments(events, lambda_duration_ms, retries_per_event)
    if api_requests_per_event < 1:
        raise ValueError(
            f"invalid API requests per event {api_requests_per_event}: the POST "
            "makes at least 1"
        )
    _check_sizes(lambda_memory_mb, history_pages_per_event)
    start_rate = start_execution_refill(region)
    invocations = events * (1 + retries_per_event)
    transitions = round(events * (STATES_PER_EXECUTION + retries_per_event))
    costs = _costs(
        region, events, invocations, transitions, lambda_duration_ms, lambda_memory_mb
    )
    costs["api_gateway_usd"] *= api_requests_per_event
    return RunEstimate(
        events=events,
        region=region,
        start_execution_per_s=start_rate,
        firing_s=events / start_rate,
        history_requests_per_s=GET_EXECUTION_HISTORY_REFILL,
        collecting_s=events * history_pages_per_event / GET_EXECUTION_HISTORY_REFILL,
        state_transitions=transitions,
        **costs,
        total_usd=sum(costs.values()),
        assumptions=_assumptions(
            region, lambda_duration_ms, lambda_memory_mb, retries_per_event
        )
        + (f"{api_requests_per_event:g} REST API requests per event",),
    )


def _check_arguments(
    events: int, lambda_duration_ms: float, retries_per_event: float
) -> None:
    if events < 0:
        raise ValueError(f"invalid number of events {events}: it must be 0 or more")
    if lambda_duration_ms <= 0:
        raise ValueError(
            f"invalid Lambda duration {lambda_duration_ms} ms: it must be positive"
        )
    if retries_per_event < 0:
        raise ValueError(
            f"invalid retries per event {retries_per_event}: it must be 0 or more"
        )


def _check_sizes(lambda_memory_mb: int, history_pages_per_event: int) -> None:
    if not 128 <= lambda_memory_mb <= 10240:
        raise ValueError(
            f"invalid Lambda memory {lambda_memory_mb} MB: Lambda allows 128 to "
            "10,240 MB"
        )
    if history_pages_per_event < 1:
        raise ValueError(
            f"invalid history pages per event {history_pages_per_event}: it must "
            "be 1 or more"
        )


def _costs(
    region: str,
    events: int,
    invocations: float,
    transitions: int,
    lambda_duration_ms: float,
    lambda_memory_mb: int,
) -> dict[str, float]:
    """Return the cost of each service in USD at list prices."""
    per_1000 = STATE_TRANSITION_USD_PER_1000.get(
        region, DEFAULT_STATE_TRANSITION_USD_PER_1000
    )
    billed_s = math.ceil(lambda_duration_ms) / 1000
    gb_seconds = invocations * billed_s * lambda_memory_mb / 1024
    return {
        "step_functions_usd": transitions * per_1000 / 1000,
        "api_gateway_usd": events * REST_API_USD_PER_MILLION / 1e6,
        "lambda_requests_usd": invocations * LAMBDA_REQUEST_USD_PER_MILLION / 1e6,
        "lambda_duration_usd": gb_seconds * LAMBDA_USD_PER_GB_SECOND,
    }


def _assumptions(
    region: str,
    lambda_duration_ms: float,
    lambda_memory_mb: int,
    retries_per_event: float,
) -> tuple[str, ...]:
    notes = [
        f"each event starts one execution of {STATES_PER_EXECUTION} state "
        "transitions (Wait and Task)",
        f"Lambda runs {lambda_duration_ms:g} ms at {lambda_memory_mb} MB on x86_64, "
        f"with {retries_per_event:g} retries per event",
        "durations use the default quota refill rates and ignore the initial burst",
        "the kit's collector paces GetExecutionHistory at 80% of the quota, so "
        "it takes a quarter longer than collecting_s",
        "free tiers and volume discounts are not subtracted",
        "API Gateway and Lambda prices are those of US East (N. Virginia)",
    ]
    if region not in STATE_TRANSITION_USD_PER_1000:
        notes.append(
            f"{region} is not in the state transition price table read on "
            f"{PRICES_READ_ON}; the US East price is used"
        )
    return tuple(notes)
