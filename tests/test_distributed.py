"""Studies on Dask: a LocalCluster that loses a worker mid-run, an external scheduler with
workers started as separate processes, and runs that fail by themselves."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from textgnn.experiments import run_study
from textgnn.run_records import read_runs
from textgnn.runtime import free_port
from textgnn.study import Study


def _study(tmp_path, name: str, toy_data, **extra) -> Study:
    """8 runs: 2 encoders x 2 graphs x 2 seeds of a tiny model, one torch thread each (the
    same thread count gives the same numbers in any worker)."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "model": {"hidden": 16, "heads": 2, "ffn": 32, "layers": 1},
        "train": {"epochs": 6, "patience": 6, "batch_size": 16, "lr": 0.01, "threads": 1},
        "data": {"min_freq": 1}}))
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({
        "name": name, "config": "base.yaml", "datasets": [str(toy_data)], "graphs": ["window", "none"],
        "encoders": ["gcn", "gat"], "seeds": 2, **extra}))
    return Study.load(tmp_path / f"{name}.yaml")


def _outcome(runs: list[dict]) -> dict:
    """What a run must reproduce: its metrics and every test prediction."""
    return {r["key"]: (r["dev"], r["test"], r["test_predictions"]) for r in runs}


@pytest.fixture(scope="module")
def sequential(toy_data, tmp_path_factory):
    """The 8 runs one after another on a single worker: the records to match."""
    tmp = tmp_path_factory.mktemp("sequential")
    done = run_study(_study(tmp, "toy", toy_data), tmp / "results", jobs=1)
    assert done.finished == 8 and not done.failed
    return _outcome(read_runs(done.runs))


def _runs_in_flight(root: psutil.Process) -> list[tuple[psutil.Process, object]]:
    """(run process, its run directory) for every training run under ``root``: a run is a
    process forked by a worker's forkserver, writing its output to ``<run dir>/train.log``."""
    found = []
    for proc in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            logs = [f.path for f in proc.open_files() if f.path.endswith("train.log")]
            if logs and "forkserver" in " ".join(proc.parent().cmdline()):
                found.append((proc, Path(logs[0]).parent))
    return found


def test_a_study_survives_a_worker_killed_mid_run(toy_data, tmp_path, sequential):
    study = _study(tmp_path, "toy", toy_data)
    result: dict = {}

    def run() -> None:
        result["done"] = run_study(study, tmp_path / "results", jobs=2)

    thread = threading.Thread(target=run)
    thread.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and thread.is_alive():
        for proc, run_dir in _runs_in_flight(psutil.Process()):
            # mid-run: an epoch checkpointed, the run not finished
            if (run_dir / "checkpoint.safetensors").is_file() and not (run_dir / "metrics.json").is_file():
                with contextlib.suppress(psutil.Error):
                    victim = (proc, proc.parent().parent(), run_dir)  # run, forkserver, worker
                    break
        time.sleep(0.02)
    assert victim is not None, "no run was caught mid-way"
    proc, worker, run_dir = victim
    worker.send_signal(signal.SIGKILL)
    # the run dies with its worker, as when a machine goes down; its own watchdog would stop
    # it too, but on a loaded machine not always before it finished its last epoch (then the
    # retry finds metrics.json and, rightly, trains afresh instead of resuming)
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    thread.join(timeout=300)
    assert not thread.is_alive()
    done = result["done"]
    assert done.finished == 8 and not done.failed
    lines = done.runs.read_text().splitlines()
    assert len(lines) == 8 and all(json.loads(line)["key"] for line in lines)
    assert _outcome(read_runs(done.runs)) == sequential
    assert "resumed from" in (run_dir / "train.log").read_text()  # the retry continued it


def test_a_study_on_a_separate_scheduler_and_workers(toy_data, tmp_path, sequential):
    port = free_port()
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    started = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                 "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    address = f"tcp://127.0.0.1:{port}"
    try:
        started += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                      "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(2)]
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        done = run_study(_study(tmp_path, "toy", toy_data), tmp_path / "results", scheduler=address)
        assert done.finished == 8 and not done.failed
        assert _outcome(read_runs(done.runs)) == sequential
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert all(proc.poll() is not None for proc in started)
    assert not [p for p in psutil.Process().children(recursive=True)
                if "dask" in " ".join(p.cmdline())]


def test_a_run_that_fails_by_itself_is_recorded_and_the_study_goes_on(toy_data, tmp_path):
    from textgnn.cli import main

    # one cell diverges (a NaN loss), one cannot even be configured (gat: heads must divide hidden)
    (tmp_path / "nan.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "train": {"lr": 1.0e30}}))
    (tmp_path / "odd.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "model": {"heads": 3}}))
    _study(tmp_path, "mixed", toy_data, seeds=1, graphs=["window"], encoders=["gcn"],
                   cells=[{"encoder": "gcn", "graph": "window", "label": "nan", "config": "nan.yaml"},
                          {"encoder": "gat", "graph": "window", "label": "odd", "config": "odd.yaml"}])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["experiment", str(tmp_path / "mixed.yaml"), "--out", str(tmp_path / "results")])
    assert code == 1, err.getvalue()[-2000:]
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    name = toy_data.name
    assert summary["finished"] == 1
    assert summary["failed"] == [f"{name}/gat~odd-window/seed0", f"{name}/gcn~nan-window/seed0"]
    failures = {r["key"]: r["error"] for r in read_runs(tmp_path / "results" / "mixed" / "failures.jsonl")}
    assert "heads" in failures[f"{name}/gat~odd-window/seed0"]
    assert "the training loss is nan" in failures[f"{name}/gcn~nan-window/seed0"]
    assert len(read_runs(tmp_path / "results" / "mixed" / "runs.jsonl")) == 1
    results = (tmp_path / "results" / "mixed" / "RESULTS.md").read_text()
    assert "**2 run(s) failed**" in results and "the training loss is nan" in results
    assert "error: 2 run(s) failed" in err.getvalue()


def test_a_paused_local_cluster_keeps_its_workers():
    """A study paused (SIGSTOP, a suspended laptop) for longer than Dask's worker TTL (5
    minutes) used to come back to its workers restarted and their runs lost; a local cluster
    has no TTL check (a worker that dies closes its connection instead)."""
    from textgnn.cluster import dask_client

    with dask_client(1, None, 0) as client:
        ttl, callbacks = client.run_on_scheduler(
            lambda dask_scheduler: (dask_scheduler.worker_ttl, set(dask_scheduler.periodic_callbacks)))
    assert ttl is None and "worker-ttl" not in callbacks
