"""`kill -TERM` on `anchormi bench` ends its worker processes, keeps the finished cells, and a rerun
resumes: the finished cells are not run again. Even `kill -KILL` leaves no worker behind.

The sweep has two instant cells (the closed-form `gaussian`) and two that would train for hours
(`anchor`, ten million steps, no early stop), on two local worker processes. The test waits until
the instant cells are stored and the workers are busy, sends SIGTERM to the command, and checks
that every process it started is gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from anchormi.bench import SweepConfig, run_sweep
from anchormi.bench.executors import SerialExecutor
from anchormi.bench.store import CellStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table of Linux")

ENDLESS = 10_000_000
DEADLINE = 180.0  # seconds; generous for a loaded 2-core machine (spawned workers import torch)


def _bench_command(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "anchormi.cli", "bench", "-t", "gaussian:dim=2,mi=0.5", "-m", "gaussian", "-m", "anchor",
        "--n", "2000,200", "--seeds", "0", "--max-steps", str(ENDLESS), "--param", f"patience={ENDLESS}",
        "--param", "hidden=[8,8]", "--workers", "2", "--no-figures", "--no-progress", "--out", str(out),
    ]


def _same_config(out: Path) -> SweepConfig:
    """The configuration the command above builds, for checking its cells in this process."""
    return SweepConfig(
        tasks=["gaussian:dim=2,mi=0.5"], methods=["gaussian", "anchor"], n=[2000, 200], seeds=[0],
        estimator={"max_steps": ENDLESS, "patience": ENDLESS, "hidden": [8, 8]}, out=str(out),
    )


def _descendants(pid: int) -> set[int]:
    """Every live descendant process of ``pid`` (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return {child.pid for child in psutil.Process(pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie or a vanished pid counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the command exited ({process.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


def _finished(out: Path) -> set[str]:
    return {path.name for path in (out / "cells").glob("*.json") if not path.name.endswith(".failed.json")}


def _busy_workers(pid: int) -> set[int]:
    workers = set()
    for child in _descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            workers.add(child)
    return workers


def _kill_survivors(pids: set[int]) -> list[int]:
    """Wait (up to DEADLINE) for ``pids`` to end; SIGKILL and return those that did not."""
    deadline = time.monotonic() + DEADLINE
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [pid for pid in pids if _alive(pid)]
    for pid in survivors:  # leave no orphan behind, even when the test fails
        os.kill(pid, signal.SIGKILL)
    return survivors


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_signal(out: Path, log: Path, signum: int, to_group: bool = False) -> tuple[int, set[int], list[int]]:
    """Run the bench command until its workers are busy, send ``signum`` (to its whole process
    group, as a terminal's Ctrl-C does, with ``to_group``); return (exit status, the processes it
    had started, those of them still alive after DEADLINE)."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    started: set[int] = set()
    with open(log, "w") as handle:  # a file, not a pipe: orphaned workers would hold a pipe open
        # SIGINT at its default, as in a terminal: a test run started in the background (`cmd &`)
        # inherits SIGINT ignored, and a command started so rightly keeps ignoring Ctrl-C.
        process = subprocess.Popen(_bench_command(out), stdout=handle, stderr=subprocess.STDOUT, env=environment,
                                   start_new_session=True, preexec_fn=_default_sigint)
    try:
        _wait_for(lambda: len(_finished(out)) == 2, "the two instant cells were stored", process, log)
        _wait_for(lambda: len(_busy_workers(process.pid)) == 2, "both workers were running", process, log)
        started = _descendants(process.pid)
        if to_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        process.wait(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        survivors = _kill_survivors(started)
    return process.returncode, started, survivors


@pytest.mark.slow
def test_ctrl_c_still_stops_the_sweep_and_its_workers(tmp_path):
    status, started, survivors = _start_and_signal(tmp_path / "bench", tmp_path / "bench.log", signal.SIGINT, to_group=True)
    assert not survivors, "worker processes outlived the interrupted command"
    output = (tmp_path / "bench.log").read_text()
    assert status == 130 and "rerun the same command to resume" in output and "Traceback" not in output, output


def test_sigkill_leaves_no_orphaned_worker(tmp_path):
    # No handler runs on SIGKILL: the workers notice their parent is gone and exit by themselves.
    status, started, survivors = _start_and_signal(tmp_path / "bench", tmp_path / "bench.log", signal.SIGKILL)
    assert status == -signal.SIGKILL and len(started) >= 2
    assert not survivors, "worker processes outlived the killed command"


def test_sigterm_ends_the_workers_and_a_rerun_resumes(tmp_path):
    out = tmp_path / "bench"
    log = tmp_path / "bench.log"
    status, started, survivors = _start_and_signal(out, log, signal.SIGTERM)
    assert not survivors, "worker processes outlived the command"
    output = log.read_text()
    assert status == 130 and "rerun the same command to resume" in output, output

    # The rerun: the same cells (keys), the two stored ones skipped, only the two anchor cells run.
    config = _same_config(out)
    store = CellStore(out)
    done = [cell for cell in config.cells() if store.is_done(cell)]
    assert sorted(cell.method for cell in done) == ["gaussian", "gaussian"]
    assert {f"{cell.key}.json" for cell in done} == _finished(out)
    stamps = {cell.key: store.record_path(cell).stat().st_mtime_ns for cell in done}
    calls = []

    def record_call(cell):
        calls.append(cell.method)
        raise RuntimeError("not trained in this test")

    rerun = run_sweep(config, executor=SerialExecutor(), cell_fn=record_call, figures=False)
    assert rerun.skipped == 2 and sorted(calls) == ["anchor", "anchor"] and len(rerun.failures) == 2
    assert {cell.key: store.record_path(cell).stat().st_mtime_ns for cell in done} == stamps
