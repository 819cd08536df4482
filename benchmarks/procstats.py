"""Resident memory, thread count and CPU time of a process, read from /proc (Linux)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcessSample:
    """One reading of a process's counters."""

    rss_kib: int
    peak_rss_kib: int
    threads: int
    cpu_s: float


def read_sample(pid: int) -> ProcessSample:
    """Read VmRSS, VmHWM and Threads from status, and user plus system CPU time."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()[0] if value.split() else ""

    # Fields 14 and 15 of /proc/PID/stat are utime and stime in clock ticks.
    # The command name in field 2 may contain spaces, so split after its ")".
    stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(stat[11]) + int(stat[12])
    return ProcessSample(
        rss_kib=int(fields["VmRSS"]),
        peak_rss_kib=int(fields["VmHWM"]),
        threads=int(fields["Threads"]),
        cpu_s=ticks / _CLOCK_TICKS,
    )


class ProcessSampler:
    """Sample a process in a background thread; keep the peak thread count."""

    def __init__(self, pid: int, interval_s: float = 0.25):
        self.pid = pid
        self.interval_s = interval_s
        self.peak_threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            sample = read_sample(self.pid)
            self.peak_threads = max(self.peak_threads, sample.threads)
            self._stop.wait(self.interval_s)
