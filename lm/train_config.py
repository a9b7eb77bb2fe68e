"""The training configuration: YAML -> typed dataclasses, strictly validated.

An unknown key or a value of the wrong type raises ValueError naming the key, the value and the file
(silently ignoring configuration is a bug). Read by lm/train.py.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class DataConfig:
    text: str = "ts_2MiB.txt"  # a name in the data folder (lm.datafiles) or a path
    vocab_size: int = 2048  # BPE vocabulary trained on the text with lm.tokenizer
    special_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    val_fraction: float = 0.05  # the last tokens of the corpus, never trained on


@dataclass
class ModelConfig:
    context_length: int = 128
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    d_ff: int = 384
    rope_theta: float = 10000.0
    num_kv_heads: int | None = None
    norm: str = "rmsnorm"
    ffn: str = "swiglu"
    position: str = "rope"
    is_post_norm: bool = False
    is_tied: bool = False


@dataclass
class TrainConfig:
    batch_size: int = 16
    grad_accum_steps: int = 1  # micro-batches of batch_size per optimizer step
    max_steps: int = 1000
    lr: float = 3e-3
    min_lr: float = 3e-4
    warmup_steps: int = 50
    weight_decay: float = 0.1
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batches: int = 20
    checkpoint_every: int = 200
    log_every: int = 10
    max_minutes: float | None = None  # stop (and checkpoint) after this much wall time


@dataclass
class RunConfig:
    out_dir: str = "runs/tinystories_cpu"
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | auto
    autocast_dtype: str | None = None  # bfloat16 / float16 mixed precision, None = float32
    compile: bool = False
    num_threads: int | None = None  # torch intra-op threads on CPU
    peak_flops: float | None = None  # device peak FLOP/s, for model FLOPs utilization
    resume: bool = True  # continue from out_dir/checkpoints/latest.pt when it exists
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str = "<defaults>"  # where the config came from (set by load_config)


CHOICES = {
    "device": ("cpu", "cuda", "auto"),
    "autocast_dtype": ("bfloat16", "float16", None),
}


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file; relative out_dir is kept relative to the cwd."""
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return config_from_dict(raw, str(path))


def config_from_dict(raw: Any, source: str = "<dict>") -> RunConfig:
    """Build a RunConfig from nested dicts, raising ValueError for unknown keys or bad types."""
    config = _build(RunConfig, raw, source, prefix="")
    config.source = source
    for key, choices in CHOICES.items():
        if getattr(config, key) not in choices:
            raise ValueError(
                f"config {source}: {key}={getattr(config, key)!r} (expected one of {choices})"
            )
    return config


def _build(cls: type, raw: Any, source: str, prefix: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ValueError(f"config {source}: {where} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ValueError(
            f"config {source}: unknown key {prefix + unknown[0]!r} "
            f"(expected one of {sorted(names)})"
        )
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, source, f"{prefix}{name}.")
        else:
            values[name] = _check_type(value, hint, f"{prefix}{name}", source)
    return cls(**values)


def _check_type(value: Any, hint: Any, key: str, source: str) -> Any:
    """Return value (ints widened to float where a float is expected) or raise ValueError."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option in (int, str, bool) and type(value) is option:
            return value
        if typing.get_origin(option) is list and isinstance(value, list):
            (item,) = typing.get_args(option)
            return [_check_type(v, item, f"{key}[{i}]", source) for i, v in enumerate(value)]
    expected = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise ValueError(f"config {source}: {key}={value!r} has the wrong type (expected {expected})")
