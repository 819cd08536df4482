"""The Makefile's commands, run as a user runs them, on a lab of their own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers.emulator import ACCESS_KEY_ID, LocalLab


@pytest.fixture(scope="module")
def cli_lab(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-lab")
    yield directory
    LocalLab(directory).stop()


def _cli(lab_dir, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TIMESTAMP_LAB_DIR": str(lab_dir)}
    return subprocess.run(
        [sys.executable, "-m", "helpers.cli", *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


@pytest.fixture(scope="module")
def up_output(cli_lab) -> list[str]:
    result = _cli(cli_lab, "up", "--stack", "cli-stack")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_up_prints_endpoint_url_last(up_output):
    assert up_output[-1].startswith("http://127.0.0.1:")
    assert up_output[-1].endswith("/v1")


def test_up_second_run_changes_nothing(cli_lab, up_output):
    again = _cli(cli_lab, "up", "--stack", "cli-stack").stdout.strip().splitlines()

    assert again[-1] == up_output[-1]
    assert all(line.endswith(": unchanged") for line in again[:-2])


def test_status_reports_urls_keys_and_health(cli_lab, up_output):
    result = _cli(cli_lab, "status", "--stack", "cli-stack")

    assert result.returncode == 0
    assert f"Endpoint URL: {up_output[-1]}" in result.stdout
    assert ACCESS_KEY_ID in result.stdout
    assert "Region:       us-east-1" in result.stdout
    assert "UNHEALTHY" not in result.stdout
    assert result.stdout.count("healthy") == 5


def test_teardown_then_down_leave_nothing(cli_lab, up_output):
    teardown = _cli(cli_lab, "teardown", "--stack", "cli-stack")
    again = _cli(cli_lab, "teardown", "--stack", "cli-stack")
    down = _cli(cli_lab, "down")
    status = _cli(cli_lab, "status")

    assert teardown.returncode == 0
    assert "deleted REST API cli-stack-api" in teardown.stdout
    assert "stopped the local gateway" in teardown.stdout
    assert "deleted" not in again.stdout
    assert "stopped" not in again.stdout
    assert down.returncode == 0
    assert status.returncode == 0
    assert "not running" in status.stdout
