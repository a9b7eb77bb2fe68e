"""End-to-end alignment on CPU: pre-train a tiny base model on flawed addition, then SFT, DPO, GRPO.

`python -m lm.alignment.demo sft|dpo|grpo|all [--steps N] [--out runs/alignment]`. The base
model (cached under the out dir) is pre-trained on a mixture of bare sums and worked sums that often
forget the carry; each stage then measures exact-match accuracy on held-out problems before and
after.
Every stage starts from the same base model (`all` runs the three side by side: run after SFT,
off-policy DPO on these pairs lowered accuracy in our tries, as the report says). Writes
`log.jsonl` (one record per step and per evaluation), `curves_<stage>.svg` and `results.json`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from lm.alignment import loops
from lm.alignment.addition_task import AdditionTokenizer, base_text, split_problems
from lm.atomic_file import atomic_path, write_text_atomic
from lm.loss_plot import write_loss_svg

STAGES = ("sft", "dpo", "grpo")


@dataclass(frozen=True)
class DemoConfig:
    """Sizes and step counts of one demo run (defaults: the full CPU demo, ~minutes per stage)."""

    size: loops.ModelSize = field(default_factory=loops.ModelSize)
    pretrain_steps: int = 1500
    p_raw: float = 0.2  # base documents that are bare sums without the format
    p_forget: float = 0.6  # worked base documents that forget the carry
    num_test: int = 200
    steps: dict[str, int] = field(default_factory=lambda: {"sft": 60, "dpo": 20, "grpo": 30})
    eval_every: dict[str, int] = field(default_factory=lambda: {"sft": 10, "dpo": 5, "grpo": 5})
    dpo_lr: float = 1e-4
    dpo_nll_weight: float = 1.0
    grpo_prompts: int = 16
    grpo_group: int = 8
    seed: int = 0


def tiny_config() -> DemoConfig:
    """Seconds-scale settings for tests and the lecture's smoke mode."""
    return DemoConfig(
        size=loops.ModelSize(d_model=32, num_layers=1, num_heads=2, d_ff=64),
        pretrain_steps=30, num_test=16, steps={"sft": 4, "dpo": 4, "grpo": 2},
        eval_every={"sft": 2, "dpo": 2, "grpo": 1}, grpo_prompts=4, grpo_group=4,
    )  # fmt: skip


def base_model(config: DemoConfig, out: Path, log=None) -> torch.nn.Module:
    """The pre-trained base model, loaded from `out/base_<hash>.pt` when the config matches."""
    tokenizer = AdditionTokenizer()
    train, _ = split_problems(num_test=config.num_test, seed=config.seed)
    names = ("size", "pretrain_steps", "p_raw", "p_forget", "num_test", "seed")
    key = {k: v for k, v in asdict(config).items() if k in names}
    path = out / "base.pt"
    model = loops.make_model(tokenizer, config.size, config.seed)
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") == json.dumps(key, sort_keys=True):
            model.load_state_dict(saved["model"])
            return model
    rng = random.Random(config.seed + 1)

    def sample_texts(n: int) -> list[str]:
        return [base_text(rng.choice(train), rng, config.p_raw, config.p_forget) for _ in range(n)]

    loops.pretrain(model, tokenizer, sample_texts, config.pretrain_steps, log=log)
    payload = {"key": json.dumps(key, sort_keys=True), "model": model.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return model


class _Recorder:
    """Appends JSONL records and keeps the curves for the plot and results."""

    def __init__(self, path: Path, progress=None) -> None:
        self.file = path.open("w", encoding="utf-8")
        self.curves: dict[str, dict[str, list[float]]] = {}
        self.progress, self.task = progress, None

    def log(self, stage: str, step: int, metrics: dict[str, Any], kind: str = "train") -> None:
        self.file.write(json.dumps({"stage": stage, "kind": kind, "step": step, **metrics}) + "\n")
        self.file.flush()
        curve = self.curves.setdefault(stage, {})
        prefix = "eval_" if kind == "eval" else ""
        if kind == "eval":
            curve.setdefault("eval_step", []).append(step)
        else:
            curve.setdefault("step", []).append(step)
        for name, value in metrics.items():
            curve.setdefault(prefix + name, []).append(float(value))
        if self.progress is not None and kind == "train" and self.task is not None:
            shown = " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
            self.progress.update(self.task, advance=1, description=f"{stage} {shown}")


def run_stage(
    stage: str, model, config: DemoConfig, recorder: _Recorder, steps: int | None = None
) -> dict[str, Any]:
    """Train `model` with one stage, evaluating every few steps; returns before/after metrics."""
    if stage not in STAGES:
        raise ValueError(f"run_stage: stage={stage!r} (expected one of {STAGES})")
    tokenizer = AdditionTokenizer()
    train, test = split_problems(num_test=config.num_test, seed=config.seed)
    total = config.steps[stage] if steps is None else steps
    every = config.eval_every[stage]
    before = loops.evaluate(model, tokenizer, test)
    recorder.log(stage, 0, before, kind="eval")
    start = time.perf_counter()

    def log(step: int, metrics: dict[str, float]) -> None:
        recorder.log(stage, step + 1, metrics)
        if (step + 1) % every == 0 or step + 1 == total:  # evaluation runs in eval mode; the
            metrics = loops.evaluate(model, tokenizer, test)  # loops switch back to train mode
            recorder.log(stage, step + 1, metrics, kind="eval")

    if stage == "sft":
        loops.sft(model, tokenizer, train, total, seed=config.seed, log=log)
    elif stage == "dpo":
        loops.dpo(model, tokenizer, train, total, lr=config.dpo_lr,
                  nll_weight=config.dpo_nll_weight, seed=config.seed, log=log)  # fmt: skip
    else:
        loops.grpo(model, tokenizer, train, total, config.grpo_prompts, config.grpo_group,
                   seed=config.seed, log=log)  # fmt: skip
    seconds = round(time.perf_counter() - start, 1)
    after = loops.evaluate(model, tokenizer, test)
    return {"before": before, "after": after, "steps": total, "seconds": seconds}


def plot_curves(curves: dict[str, dict[str, list[float]]], out: Path) -> list[Path]:
    """One SVG per stage, `curves_<stage>.svg`: held-out accuracy as dots, the per-step signal
    (GRPO's mean rollout reward, DPO's pair accuracy, SFT's loss) as a line. lm/ may not import
    matplotlib, so this uses the hand-written SVG of lm.loss_plot."""
    written = []
    signal = {"grpo": "reward", "dpo": "pair_accuracy", "sft": "loss"}
    for stage in (s for s in STAGES if s in curves):
        c = curves[stage]
        line = list(zip(c["step"], c[signal[stage]], strict=True))
        dots = list(zip(c["eval_step"], c["eval_accuracy"], strict=True))
        path = out / f"curves_{stage}.svg"
        title = f"{stage.upper()}: held-out accuracy (dots), {signal[stage]} per step (line)"
        write_loss_svg(path, line, dots, {"base accuracy": c["eval_accuracy"][0]}, title)
        written.append(path)
    return written


def run_demo(
    stage: str, out: Path, config: DemoConfig | None = None, steps: int | None = None,
    show_progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run one stage (or "all"); write log.jsonl, curves_<stage>.svg, results.json in `out`."""
    if stage not in (*STAGES, "all"):
        raise ValueError(f"run_demo: stage={stage!r} (expected one of {(*STAGES, 'all')})")
    config = config or DemoConfig()
    torch.manual_seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    progress = None
    if show_progress:
        from rich.progress import Progress

        progress = Progress()
        progress.start()
    recorder = _Recorder(out / "log.jsonl", progress)
    try:
        if progress is not None:
            recorder.task = progress.add_task("pretrain", total=config.pretrain_steps)
        start = time.perf_counter()
        model = base_model(config, out, log=lambda s, m: recorder.log("pretrain", s + 1, m))
        pretrain_seconds = round(time.perf_counter() - start, 1)
        results: dict[str, Any] = {"stage": stage, "config": asdict(config),
                                   "pretrain_seconds": pretrain_seconds, "stages": {}}  # fmt: skip
        for name in STAGES if stage == "all" else (stage,):
            total = config.steps[name] if steps is None else steps
            if progress is not None:
                recorder.task = progress.add_task(name, total=total)
            start_model = copy.deepcopy(model)  # each stage starts from the base model
            results["stages"][name] = run_stage(name, start_model, config, recorder, steps)
    finally:
        recorder.file.close()
        if progress is not None:
            progress.stop()
    results["curves"] = {k: v for k, v in recorder.curves.items() if k != "pretrain"}
    plot_curves(results["curves"], out)
    text = json.dumps(results, indent=1)
    write_text_atomic(out / "results.json", text)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=(*STAGES, "all"))
    parser.add_argument("--steps", type=int, default=None, help="steps per stage (default: config)")
    parser.add_argument("--pretrain-steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/alignment"))
    parser.add_argument("--tiny", action="store_true", help="seconds-scale smoke settings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest here)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = tiny_config() if args.tiny else DemoConfig()
    config = replace(config, seed=args.seed)
    if args.pretrain_steps is not None:
        config = replace(config, pretrain_steps=args.pretrain_steps)
    results = run_demo(args.stage, args.out, config, args.steps, show_progress=True)
    for name, r in results["stages"].items():
        b, a = r["before"], r["after"]
        sys.stdout.write(
            f"{name:5s} accuracy {b['accuracy']:.3f} -> {a['accuracy']:.3f}  format "
            f"{b['format_rate']:.3f} -> {a['format_rate']:.3f}  carry {b['carry_accuracy']:.3f}"
            f" -> {a['carry_accuracy']:.3f}  ({r['steps']} steps, {r['seconds']} s)\n"
        )
    sys.stdout.write(f"wrote {args.out / 'results.json'}, log.jsonl, curves_<stage>.svg\n")


if __name__ == "__main__":
    main()
