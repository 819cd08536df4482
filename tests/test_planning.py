"""Duration and cost estimates of a run on AWS, checked against hand arithmetic."""

from __future__ import annotations

import pytest

from helpers.planning import (
    PRICES_READ_ON,
    SOURCES,
    estimate_run,
    start_execution_refill,
)


def test_estimate_run_us_east_1_costs():
    # 1,000 events x 2 transitions x USD 0.025 / 1,000 = USD 0.05
    # 2,000 requests (a POST and a GET per event) x USD 3.50 / 1e6 = USD 0.007
    # 1,000 invocations x USD 0.20 / 1e6 = USD 0.0002
    # 1,000 x 0.1 s x 0.125 GB x USD 0.0000166667 = USD 0.00020833375
    estimate = estimate_run(1000, "us-east-1")

    assert estimate.state_transitions == 2000
    assert estimate.step_functions_usd == pytest.approx(0.05, rel=1e-12)
    assert estimate.api_gateway_usd == pytest.approx(0.007, rel=1e-12)
    assert estimate.lambda_requests_usd == pytest.approx(0.0002, rel=1e-12)
    assert estimate.lambda_duration_usd == pytest.approx(0.00020833375, rel=1e-12)
    assert estimate.total_usd == pytest.approx(0.05740833375, rel=1e-12)


def test_estimate_run_us_east_1_durations():
    estimate = estimate_run(3000, "us-east-1")

    assert estimate.start_execution_per_s == 300.0
    assert estimate.firing_s == pytest.approx(10.0, rel=1e-12)
    assert estimate.history_requests_per_s == 20.0
    assert estimate.collecting_s == pytest.approx(150.0, rel=1e-12)


@pytest.mark.parametrize(
    ("region", "refill"),
    [
        ("us-east-1", 300.0),
        ("us-west-2", 300.0),
        ("eu-west-1", 300.0),
        ("eu-central-1", 150.0),
        ("ap-southeast-2", 150.0),
        ("us-east-2", 150.0),
    ],
)
def test_start_execution_refill_by_region(region, refill):
    assert start_execution_refill(region) == refill


def test_estimate_run_other_region_firing_time():
    estimate = estimate_run(3000, "eu-central-1")

    assert estimate.firing_s == pytest.approx(20.0, rel=1e-12)


def test_estimate_run_uses_regional_transition_price():
    # 1,000 events x 2 transitions x USD 0.0375 / 1,000 = USD 0.075
    estimate = estimate_run(1000, "sa-east-1")

    assert estimate.step_functions_usd == pytest.approx(0.075, rel=1e-12)


def test_estimate_run_unlisted_region_uses_us_east_price():
    estimate = estimate_run(1000, "ap-southeast-3")

    assert estimate.step_functions_usd == pytest.approx(0.05, rel=1e-12)
    assert any("ap-southeast-3 is not in" in note for note in estimate.assumptions)


def test_estimate_run_counts_retries_as_transitions_and_invocations():
    # 0.5 retries per event: 1,000 x 2.5 = 2,500 transitions, 1,500 invocations.
    estimate = estimate_run(1000, "us-east-1", retries_per_event=0.5)

    assert estimate.state_transitions == 2500
    assert estimate.step_functions_usd == pytest.approx(0.0625, rel=1e-12)
    assert estimate.lambda_requests_usd == pytest.approx(0.0003, rel=1e-12)
    assert estimate.api_gateway_usd == pytest.approx(0.007, rel=1e-12)


def test_estimate_run_rounds_lambda_duration_up_to_millisecond():
    # 0.4 ms is billed as 1 ms: 1e6 x 0.001 s x 0.125 GB = 125 GB-s.
    estimate = estimate_run(1_000_000, "us-east-1", lambda_duration_ms=0.4)

    assert estimate.lambda_duration_usd == pytest.approx(125 * 0.0000166667, rel=1e-12)


def test_estimate_run_scales_duration_cost_with_memory():
    # 1,000 x 0.2 s x 1 GB x USD 0.0000166667 = USD 0.00333334
    estimate = estimate_run(
        1000, "us-east-1", lambda_duration_ms=200, lambda_memory_mb=1024
    )

    assert estimate.lambda_duration_usd == pytest.approx(0.00333334, rel=1e-12)


def test_estimate_run_history_pages_lengthen_collecting():
    estimate = estimate_run(1000, "us-east-1", history_pages_per_event=2)

    assert estimate.collecting_s == pytest.approx(100.0, rel=1e-12)


def test_estimate_run_zero_events_costs_nothing():
    estimate = estimate_run(0, "us-east-1")

    assert estimate.total_usd == 0.0
    assert estimate.firing_s == 0.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"events": -1, "region": "us-east-1"}, "invalid number of events"),
        ({"events": 1, "region": "US-EAST-1"}, "invalid AWS Region"),
        ({"events": 1, "region": "useast1"}, "invalid AWS Region"),
        (
            {"events": 1, "region": "us-east-1", "lambda_duration_ms": 0},
            "invalid Lambda duration",
        ),
        (
            {"events": 1, "region": "us-east-1", "retries_per_event": -0.1},
            "invalid retries per event",
        ),
        (
            {"events": 1, "region": "us-east-1", "lambda_memory_mb": 64},
            "invalid Lambda memory",
        ),
        (
            {"events": 1, "region": "us-east-1", "history_pages_per_event": 0},
            "invalid history pages per event",
        ),
    ],
)
def test_estimate_run_rejects_invalid_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        estimate_run(**arguments)


def test_estimate_run_states_sources_and_date():
    estimate = estimate_run(10, "us-east-1")

    assert estimate.prices_read_on == PRICES_READ_ON
    assert estimate.sources == SOURCES
    assert any("step-functions/pricing" in source for source in SOURCES)
    assert any("service-quotas" in source for source in SOURCES)


def test_estimate_to_frame_lists_every_quantity():
    frame = estimate_run(1000, "us-east-1").to_frame()

    assert frame.loc["total_usd", "value"] == pytest.approx(0.05740833375)
    assert frame.loc["region", "value"] == "us-east-1"
    assert "2 state transitions" in frame.loc["assumptions", "value"]


def test_estimate_run_counts_api_requests_per_event():
    estimate = estimate_run(1000, "us-east-1", api_requests_per_event=4)

    assert estimate.api_gateway_usd == pytest.approx(0.014, rel=1e-12)
    assert "4 REST API requests per event" in estimate.assumptions


def test_estimate_run_rejects_fewer_than_one_api_request():
    with pytest.raises(ValueError, match="API requests per event"):
        estimate_run(10, "us-east-1", api_requests_per_event=0.5)
