"""lm.train: config validation, resume-to-identical-losses, metrics/plot outputs, CLI."""

from __future__ import annotations

import json

import pytest

from lm.train import main, train
from lm.train_config import config_from_dict, load_config

STORY = "Once upon a time there was a little {} who liked to {} in the {}.<|endoftext|>\n"


def tiny_config(tmp_path, name="run", **train):
    text = tmp_path / "stories.txt"
    if not text.exists():
        words = [("cat", "dog", "girl", "boy"), ("play", "run", "sing"), ("park", "sun", "house")]
        lines = [STORY.format(a, b, c) for a in words[0] for b in words[1] for c in words[2]]
        text.write_text("".join(lines * 4), encoding="utf-8")
    raw = {
        "out_dir": str(tmp_path / name),
        "num_threads": 1,
        "data": {"text": str(text), "vocab_size": 300, "val_fraction": 0.1},
        "model": {"context_length": 16, "d_model": 32, "num_layers": 2, "num_heads": 2, "d_ff": 64},
        "train": {"batch_size": 4, "max_steps": 8, "warmup_steps": 2, "eval_every": 4,
                  "eval_batches": 2, "checkpoint_every": 100, "log_every": 1, **train},
    }  # fmt: skip
    return config_from_dict(raw, "test.yaml")


def losses(out_dir):
    lines = (out_dir / "metrics.jsonl").read_text().splitlines()
    return [
        (r["step"], r["loss"], r.get("val_loss")) for r in map(json.loads, lines) if "loss" in r
    ]


def test_resume_gives_identical_losses(tmp_path):
    straight = tiny_config(tmp_path, "straight")
    train(straight)
    resumed = tiny_config(tmp_path, "resumed")
    first = train(resumed, stop_after=3)
    assert first["step"] == 3
    summary = train(resumed)  # picks up checkpoints/latest.pt at step 3
    assert summary["step"] == 8
    resumed_losses, straight_losses = losses(tmp_path / "resumed"), losses(tmp_path / "straight")
    assert [r[:2] for r in resumed_losses] == [r[:2] for r in straight_losses]
    # validation runs at the same steps in both (plus once at the interruption)
    assert [r for r in straight_losses if r[2] is not None] == [
        r for r in resumed_losses if r[2] is not None and r[0] != 3
    ]
    assert len(losses(tmp_path / "straight")) == 8
    assert (tmp_path / "resumed" / "loss.svg").read_text().startswith("<svg")


def test_loss_decreases_and_gradient_accumulation_runs(tmp_path):
    config = tiny_config(tmp_path, max_steps=30, grad_accum_steps=2, lr=1e-2, eval_every=30)
    summary = train(config)
    records = losses(tmp_path / "run")
    assert records[-1][1] < records[0][1] - 1.0, records
    assert summary["val_loss"] is not None and summary["bigram_val_loss"] > 0


def test_same_seed_same_losses(tmp_path):
    train(tiny_config(tmp_path, "a", max_steps=4))
    train(tiny_config(tmp_path, "b", max_steps=4))
    assert losses(tmp_path / "a") == losses(tmp_path / "b")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("modle: {}\n", "unknown key 'modle'"),
        ("model:\n  d_modle: 3\n", "unknown key 'model.d_modle'"),
        ("model:\n  d_model: '64'\n", "model.d_model='64' has the wrong type"),
        ("train:\n  lr: fast\n", "train.lr='fast'"),
        ("resume: 1\n", "resume=1 has the wrong type"),
        ("device: tpu\n", "device='tpu'"),
    ],
)
def test_config_errors_name_key_and_file(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ValueError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = Path(__file__).resolve().parents[3] / "configs"
    assert len(sorted(configs.glob("tinystories_*.yaml"))) == 2
    for path in sorted(configs.glob("tinystories_*.yaml")):
        load_config(path)


def test_cli_runs(tmp_path, capsys):
    import yaml

    config = tiny_config(tmp_path)
    raw = {
        "out_dir": config.out_dir,
        "num_threads": 1,
        "data": {"text": config.data.text, "vocab_size": 300},
        "model": {"context_length": 16, "d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32},
        "train": {"batch_size": 2, "eval_every": 2, "eval_batches": 1, "log_every": 1},
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    main(["--config", str(path), "--max-steps", "2"])
    assert '"step": 2' in capsys.readouterr().err  # the summary, printed by rich on stderr
    assert [r[0] for r in losses(tmp_path / "run")] == [1, 2]
