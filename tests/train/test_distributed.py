"""Data-parallel training: torchrun's environment, and two real CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeemo.errors import ConfigError

HELPER = Path(__file__).parent / "helpers" / "ddp_worker.py"


def test_single_process_needs_no_process_group(monkeypatch):
    import torch.distributed as dist

    from edgeemo.train.distributed import context_from_env

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = context_from_env("cpu")
    assert (ctx.enabled, ctx.is_main, ctx.device, ctx.backend) == (False, True, "cpu", None)
    assert ctx.broadcast({"a": 1}) == {"a": 1}
    ctx.barrier()
    assert not dist.is_initialized()


def test_world_size_without_torchrun_variables_is_a_clear_error(monkeypatch):
    from edgeemo.train.distributed import context_from_env

    monkeypatch.setenv("WORLD_SIZE", "2")
    for var in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="torchrun"):
        context_from_env("cpu")


def test_device_choices_are_checked():
    import torch

    from edgeemo.train.distributed import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")


@pytest.mark.slow  # trains a model
def test_two_cpu_processes_train_one_model_together(tmp_path: Path, data_root: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(HELPER), str(tmp_path), str(data_root)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in reports] == [2, 2]
    # DDP keeps the replicas identical: same weights, and rank 0's record reached rank 1
    assert reports[0]["weights_sum"] == pytest.approx(reports[1]["weights_sum"], rel=1e-6)
    assert reports[0]["head_sum"] == pytest.approx(reports[1]["head_sum"], rel=1e-6)  # extra modules too
    assert reports[0]["history"] == reports[1]["history"]
    assert len(reports[0]["history"]) == 2 and reports[0]["best_epoch"] in (0, 1)
    assert not any(r["process_group_left_initialised"] for r in reports)
    # only rank 0 wrote the run folder, and it is a normal resumable run
    run = tmp_path / "run"
    assert (run / "history.json").is_file() and (run / "curves.png").is_file()
    from edgeemo.train.checkpoint import load_checkpoint

    last = load_checkpoint(run / "last", with_state=True)
    assert last.config["epoch"] == 1 and last.config["train"]["device"] == "cpu"
