"""Child processes of the demo: the model training and the detector.

Both are the project's own console scripts, run as separate processes exactly as a
user would run them, with output going to a log file. Each gets a session of its own,
so a Ctrl-C in the terminal reaches only the demo, which then stops them in order
(replay first, then the detector with SIGTERM, then the broker).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from producer.scrape import DetectorSnapshot, ScrapeError, scrape


class ChildError(RuntimeError):
    """A child process could not start, failed, or did not become ready."""


def script(name: str) -> str:
    """Path of a console script: next to the running interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ChildError(f"{name} not found (is the project installed in this environment?)")
    return found


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file (for error messages)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_to_completion(cmd: list[str], log_path: Path, stop: threading.Event) -> int:
    """Run ``cmd`` with output to ``log_path``; a stop request terminates it.

    Returns:
        The exit status (negative: killed by that signal).
    """
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    while proc.poll() is None:
        if stop.wait(0.2):
            terminate(proc, timeout=20)
    return proc.returncode


def terminate(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class DetectorProcess:
    """The ``ecg-detector`` child.

    Args:
        args: Its command-line arguments (after the script).
        metrics_url: Its ``/metrics`` URL.
        log_path: Where its output goes.
    """

    def __init__(self, args: list[str], metrics_url: str, log_path: Path) -> None:
        self.cmd = [script("ecg-detector"), *args]
        self.metrics_url = metrics_url
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DetectorProcess:
        """Start the process."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def snapshot(self) -> DetectorSnapshot:
        """Its metrics now.

        Raises:
            ChildError: The process has exited.
            ScrapeError: The endpoint did not answer (yet).
        """
        if self.proc is None or self.proc.poll() is not None:
            status = None if self.proc is None else self.proc.returncode
            raise ChildError(
                f"the detector exited with status {status}; last log lines "
                f"({self.log_path}):\n{tail(self.log_path)}"
            )
        return scrape(self.metrics_url)

    def wait_ready(self, timeout_s: float, stop: threading.Event) -> DetectorSnapshot:
        """Wait until it owns partitions and has caught up (no lag, nothing new consumed).

        Returns:
            The snapshot at readiness (the baseline for this run's counts).

        Raises:
            ChildError: It exited, or was not ready within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        previous: DetectorSnapshot | None = None
        while not stop.is_set():
            try:
                snap = self.snapshot()
            except ScrapeError:
                snap = None
            if snap is not None and snap.assigned_partitions >= 1 and snap.lag == 0:
                if previous is not None and previous.beats_consumed == snap.beats_consumed:
                    return snap
                previous = snap
            if time.monotonic() > deadline:
                raise ChildError(
                    f"the detector did not join its group within {timeout_s:.0f} s; last log "
                    f"lines ({self.log_path}):\n{tail(self.log_path)}"
                )
            stop.wait(0.3)
        raise ChildError("interrupted while waiting for the detector")

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (the detector finishes its batch and exits 0)."""
        return None if self.proc is None else terminate(self.proc, timeout)
