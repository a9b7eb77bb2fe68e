"""lm.parallel.train: DDP, ZeRO-1 and FSDP train the same run to the same losses on 2 ranks, and
`python -m lm.train --parallel` works under torchrun."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lm.model import TransformerLM
from lm.parallel.launch import run_ranks
from lm.train_config import config_from_dict

pytestmark = [pytest.mark.multiproc, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[3]
WORDS = [
    "the",
    "cat",
    "dog",
    "ran",
    "sat",
    "on",
    "a",
    "mat",
    "and",
    "big",
    "small",
    "red",
    "blue",
    "tree",
    "house",
]


def _config(tmp_path: Path, out_name: str) -> dict:
    rng = random.Random(0)
    text = tmp_path / "tiny.txt"
    if not text.exists():
        lines = (" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(300))
        text.write_text("\n".join(lines), encoding="utf-8")
    return {
        "out_dir": str(tmp_path / out_name),
        "num_threads": 1,
        "data": {"text": str(text), "vocab_size": 280, "val_fraction": 0.1},
        "model": {"context_length": 16, "d_model": 32, "num_layers": 2, "num_heads": 2, "d_ff": 40},
        "train": {
            "batch_size": 4,
            "grad_accum_steps": 2,
            "max_steps": 3,
            "warmup_steps": 1,
            "eval_every": 3,
            "eval_batches": 2,
            "log_every": 1,
        },
    }


def train_all(raw_configs: dict[str, dict]) -> dict[str, dict]:
    """Runs on each rank: every strategy in turn, each in its own out_dir."""
    from lm.parallel.train import train_parallel

    return {s: train_parallel(config_from_dict(raw), s) for s, raw in raw_configs.items()}


def test_strategies_train_identically(tmp_path: Path) -> None:
    raws = {s: _config(tmp_path, s) for s in ("ddp", "zero1", "fsdp")}
    summaries = run_ranks(train_all, raws, world_size=2, timeout_s=200)[0]
    ddp = summaries["ddp"]
    assert ddp["step"] == 3 and ddp["world_size"] == 2
    for s in ("zero1", "fsdp"):
        for key in ("loss", "grad_norm", "val_loss"):
            assert summaries[s][key] == pytest.approx(ddp[key], rel=1e-5), f"{s} {key}"
    # the saved full weights load into a plain TransformerLM and agree across strategies
    states = {}
    for s in raws:
        saved = torch.load(tmp_path / s / "checkpoints" / f"parallel_{s}.pt")
        model = TransformerLM(**saved["architecture"])
        model.load_state_dict(saved["model"])
        states[s] = saved["model"]
    for name, value in states["ddp"].items():
        assert torch.allclose(states["fsdp"][name], value, rtol=1e-4, atol=1e-6), name
        assert torch.allclose(states["zero1"][name], value, rtol=1e-4, atol=1e-6), name
    lines = (tmp_path / "fsdp" / "metrics_fsdp.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3]


@pytest.mark.slow
def test_lm_train_cli_under_torchrun(tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(_config(tmp_path, "run")), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd += ["-m", "lm.train", "--config", str(config), "--parallel", "fsdp", "--max-steps", "2"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "parallel_fsdp.pt").exists()
