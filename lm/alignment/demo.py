"""End-to-end alignment on CPU, chained: base model -> SFT -> DPO -> GRPO, each from the one before.

`python -m lm.alignment.demo [all|sft|dpo|grpo] [--config cpu|tiny|gpu] [--steps N] [--out DIR]`.
The base model is pre-trained on three-digit sums whose worked examples all forget the carry. SFT
imitates 512 correct worked examples (too few to learn carrying fully); DPO, with the SFT model as
reference, learns from pairs of that model's own wrong samples and correct answers; GRPO, from the
DPO model, learns from the verifier's reward on its own samples. Each stage reports greedy
exact-match accuracy on the same held-out problems before and after. `all` (the default) runs the
chain; a single stage starts from the previous stage's checkpoint in the out dir, trained first
when it is missing or was made with other settings. Writes `log.jsonl` (one record per step and per
evaluation), `curves_<stage>.svg`, `curves_chain.svg`, `results.json` and `<stage>.pt`.
`dpo-ablation` reruns the DPO stage from the SFT model three ways (DPO loss only, DPO + the chosen
answers' likelihood as the chain does, likelihood only) and writes `dpo_ablation.json`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from lm.alignment import loops
from lm.alignment.addition_task import AdditionTokenizer, base_text, split_problems
from lm.atomic_file import atomic_path, write_text_atomic
from lm.loss_plot import write_loss_svg

STAGES = ("sft", "dpo", "grpo")
PARENT = {"sft": "base", "dpo": "sft", "grpo": "dpo"}
EVAL_ONLY = ("eval_every", "margin_prompts")  # settings that change no weights: not in keys


@dataclass(frozen=True)
class DemoConfig:
    """Sizes, step counts and learning rates of one chained run (defaults: the full CPU demo).

    Fields named `sft_*`, `dpo_*`, `grpo_*` belong to that stage; the others shape the task and
    the base model. A checkpoint's key is its stage's fields plus its parent's key.
    """

    size: loops.ModelSize = field(default_factory=loops.ModelSize)
    device: str = "cpu"
    seed: int = 0
    num_digits: int = 3
    num_test: int = 500  # held-out problems, the same for every evaluation
    pretrain_steps: int = 1500
    pretrain_batch: int = 64
    p_raw: float = 0.2  # base documents that are bare sums without the format
    p_forget: float = 1.0  # worked base documents that forget the carry
    sft_examples: int = 512  # the demonstrations SFT sees; DPO and GRPO may use every train prompt
    sft_steps: int = 600  # about 37 epochs: SFT has memorised its demonstrations by the end
    sft_lr: float = 2e-3
    sft_batch: int = 32
    dpo_steps: int = 200
    dpo_lr: float = 3e-4
    dpo_batch: int = 16  # prompts per step, each sampled dpo_samples times from the reference
    dpo_samples: int = 4
    dpo_beta: float = 0.1
    dpo_nll_weight: float = 4.0
    grpo_steps: int = 200
    grpo_lr: float = 2e-4
    grpo_prompts: int = 32
    grpo_group: int = 8
    eval_every: dict[str, int] = field(default_factory=lambda: {"sft": 50, "dpo": 20, "grpo": 10})
    margin_prompts: int = 200  # held-out prompts whose on-policy pairs measure the DPO margin


def tiny_config() -> DemoConfig:
    """Seconds-scale settings for tests and smoke runs."""
    return DemoConfig(
        size=loops.ModelSize(d_model=32, num_layers=1, num_heads=2, d_ff=64),
        num_test=16, pretrain_steps=30, sft_examples=64, sft_steps=4, dpo_steps=4, dpo_batch=4,
        grpo_steps=2, grpo_prompts=4, grpo_group=4, margin_prompts=8,
        eval_every={"sft": 2, "dpo": 2, "grpo": 1},
    )  # fmt: skip


def gpu_config() -> DemoConfig:
    """The same recipe at a larger scale, on CUDA when there is one.

    Not tuned: no GPU was at hand when the chain was tuned, so its step counts and learning rates
    are the CPU ones scaled by guesswork, and a bigger model may leave SFT less headroom.
    """
    return DemoConfig(
        size=loops.ModelSize(d_model=256, num_layers=4, num_heads=8, d_ff=768),
        device="cuda" if torch.cuda.is_available() else "cpu",
        num_test=2000, pretrain_steps=4000, pretrain_batch=256, sft_examples=1024,
        sft_steps=1200, sft_lr=1e-3, sft_batch=64, dpo_steps=400, dpo_lr=1e-4, dpo_batch=64,
        grpo_steps=300, grpo_lr=1e-4, grpo_prompts=128, grpo_group=16, margin_prompts=1000,
    )  # fmt: skip


CONFIGS = {"cpu": DemoConfig, "tiny": tiny_config, "gpu": gpu_config}


def stage_key(config: DemoConfig, stage: str) -> str:
    """The settings that decide a checkpoint's weights, as JSON: "base" or a stage of STAGES."""
    fields = {k: v for k, v in asdict(config).items() if k not in EVAL_ONLY}
    if stage == "base":
        own = {k: v for k, v in fields.items() if not k.startswith(tuple(s + "_" for s in STAGES))}
    else:
        own = {k: v for k, v in fields.items() if k.startswith(stage + "_")}
        own["parent"] = stage_key(config, PARENT[stage])
    return json.dumps(own, sort_keys=True)


def _load(path: Path, key: str, model: torch.nn.Module) -> bool:
    """Load `path` into `model` when it exists and was saved under `key`."""
    if not path.exists():
        return False
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("key") != key:
        return False
    model.load_state_dict(saved["model"])
    return True


def _save(path: Path, key: str, model: torch.nn.Module, dtype: torch.dtype | None = None) -> None:
    state = {k: v.detach().cpu().to(dtype or v.dtype) for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"key": key, "model": state}, tmp)


def _fresh_model(config: DemoConfig) -> torch.nn.Module:
    return loops.make_model(AdditionTokenizer(), config.size, config.seed).to(config.device)


class _Recorder:
    """Appends JSONL records and keeps the curves for the plot and results."""

    def __init__(self, path: Path, progress=None) -> None:
        self.file = path.open("w", encoding="utf-8")
        self.curves: dict[str, dict[str, list[float]]] = {}
        self.progress, self.task = progress, None

    def start(self, stage: str, total: int) -> None:
        if self.progress is not None:
            self.task = self.progress.add_task(stage, total=total)

    def log(self, stage: str, step: int, metrics: dict[str, Any], kind: str = "train") -> None:
        metrics = {k: round(float(v), 5) for k, v in metrics.items()}
        self.file.write(json.dumps({"stage": stage, "kind": kind, "step": step, **metrics}) + "\n")
        self.file.flush()
        curve = self.curves.setdefault(stage, {})
        prefix = "eval_" if kind == "eval" else ""
        curve.setdefault(prefix + "step", []).append(step)
        for name, value in metrics.items():
            curve.setdefault(prefix + name, []).append(value)
        if self.progress is not None and kind == "train" and self.task is not None:
            shown = " ".join(f"{k}={v:.3f}" for k, v in metrics.items())
            self.progress.update(self.task, advance=1, description=f"{stage} {shown}")


def base_model(config: DemoConfig, out: Path, recorder: _Recorder) -> tuple[Any, float | None]:
    """The pre-trained base model from `out/base.pt` when its key matches, else pre-trained now.

    Returns (model, seconds spent pre-training, None when it was loaded).
    """
    tokenizer = AdditionTokenizer()
    model, key = _fresh_model(config), stage_key(config, "base")
    if _load(out / "base.pt", key, model):
        return model, None
    train, _ = split_problems(config.num_digits, config.num_test, config.seed)
    rng = random.Random(config.seed + 1)

    def sample_texts(n: int) -> list[str]:
        return [base_text(rng.choice(train), rng, config.p_raw, config.p_forget) for _ in range(n)]

    recorder.start("pretrain", config.pretrain_steps)
    start = time.perf_counter()
    loops.pretrain(model, tokenizer, sample_texts, config.pretrain_steps, config.pretrain_batch,
                   log=lambda step, m: recorder.log("pretrain", step + 1, m))  # fmt: skip
    seconds = round(time.perf_counter() - start, 1)
    _save(out / "base.pt", key, model)
    return model, seconds


def run_stage(stage: str, model, config: DemoConfig, recorder: _Recorder) -> dict[str, Any]:
    """Train `model` in place with one stage, evaluating every few steps; returns before/after.

    DPO's evaluations add the implicit-reward margin on fixed held-out pairs sampled from its
    reference (the starting model), so "before" has margin 0 by definition.
    """
    if stage not in STAGES:
        raise ValueError(f"run_stage: stage={stage!r} (expected one of {STAGES})")
    tok = AdditionTokenizer()
    train, test = split_problems(config.num_digits, config.num_test, config.seed)
    total, every = getattr(config, f"{stage}_steps"), config.eval_every[stage]
    reference, pairs = None, []
    if stage == "dpo":
        reference = loops.frozen_copy(model)
        gen = loops.seeded_generator(model, config.seed + 1)
        pairs = loops.on_policy_pairs(reference, tok, test[: config.margin_prompts],
                                      config.dpo_samples, gen)  # fmt: skip

    def evaluate() -> dict[str, float]:
        metrics = loops.evaluate(model, tok, test)
        if reference is not None and pairs:
            metrics |= loops.preference_margin(model, reference, tok, pairs, config.dpo_beta)
        return metrics

    def log(step: int, metrics: dict[str, float]) -> None:
        recorder.log(stage, step + 1, metrics)
        if (step + 1) % every == 0 or step + 1 == total:  # evaluation runs in eval mode; the
            recorder.log(stage, step + 1, evaluate(), kind="eval")  # loops switch back

    recorder.start(stage, total)
    start = time.perf_counter()
    before = evaluate()
    recorder.log(stage, 0, before, kind="eval")
    if stage == "sft":
        loops.sft(model, tok, train[: config.sft_examples], total, batch_size=config.sft_batch,
                  lr=config.sft_lr, seed=config.seed, log=log)  # fmt: skip
    elif stage == "dpo":
        loops.dpo(model, tok, train, total, batch_size=config.dpo_batch, beta=config.dpo_beta,
                  lr=config.dpo_lr, nll_weight=config.dpo_nll_weight,
                  num_samples=config.dpo_samples, seed=config.seed, reference=reference,
                  log=log)  # fmt: skip
    else:
        loops.grpo(model, tok, train, total, config.grpo_prompts, config.grpo_group,
                   lr=config.grpo_lr, seed=config.seed, log=log)  # fmt: skip
    after = evaluate()  # greedy decoding: the same numbers as the last logged evaluation
    seconds = round(time.perf_counter() - start, 1)
    return {"before": before, "after": after, "steps": total, "seconds": seconds}


def _trained(stage: str, config: DemoConfig, out: Path, recorder: _Recorder, results: dict):
    """The model after `stage`: its checkpoint when the key matches, else trained now (parents
    first, each recorded in `results`)."""
    if stage == "base":
        model, seconds = base_model(config, out, recorder)
        results["pretrain_seconds"] = seconds
        return model
    model = _fresh_model(config)
    if _load(out / f"{stage}.pt", stage_key(config, stage), model):
        return model
    model = _trained(PARENT[stage], config, out, recorder, results)
    results["stages"][stage] = run_stage(stage, model, config, recorder)
    _save(out / f"{stage}.pt", stage_key(config, stage), model)
    return model


def plot_curves(curves: dict[str, dict[str, list[float]]], out: Path) -> list[Path]:
    """`curves_<stage>.svg` per stage (held-out accuracy as dots, the per-step signal as a line:
    SFT's loss, DPO's margin, GRPO's mean rollout reward) and `curves_chain.svg` (held-out
    accuracy through all stages run, one step axis). lm/ may not import matplotlib, so this uses
    the hand-written SVG of lm.loss_plot."""
    written = []
    signal = {"sft": "loss", "dpo": "margin", "grpo": "reward"}
    chain, ends, offset = [], [], 0
    for stage in (s for s in STAGES if s in curves):
        c = curves[stage]
        line = list(zip(c["step"], c[signal[stage]], strict=True))
        dots = list(zip(c["eval_step"], c["eval_accuracy"], strict=True))
        path = out / f"curves_{stage}.svg"
        title = f"{stage.upper()}: held-out accuracy and {signal[stage]} per step"
        write_loss_svg(path, line, dots, {"accuracy before": c["eval_accuracy"][0]}, title,
                       y_label="value", legend=(signal[stage], "held-out accuracy"))  # fmt: skip
        written.append(path)
        chain += [(offset + step, acc) for step, acc in dots]
        offset += int(c["eval_step"][-1])
        ends.append(chain[-1])
    if chain:
        path = out / "curves_chain.svg"
        stages = " -> ".join(s.upper() for s in STAGES if s in curves)
        title = f"held-out accuracy through {stages}"
        write_loss_svg(path, chain, ends, {"start": chain[0][1]}, title, y_label="accuracy",
                       legend=("held-out accuracy", "end of a stage"))  # fmt: skip
        written.append(path)
    return written


@contextmanager
def _recording(out: Path, seed: int, show_progress: bool) -> Iterator[_Recorder]:
    """Seed torch, make `out`, and yield a recorder appending to `out/log.jsonl` (with a rich
    progress bar when asked); the log is closed and the bar stopped however the block ends."""
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    progress = None
    if show_progress:
        from rich.progress import Progress

        progress = Progress()
        progress.start()
    recorder = _Recorder(out / "log.jsonl", progress)
    try:
        yield recorder
    finally:
        recorder.file.close()
        if progress is not None:
            progress.stop()


def run_demo(
    stage: str = "all", out: Path = Path("runs/alignment"), config: DemoConfig | None = None,
    steps: int | None = None, show_progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Run the chain ("all") or one stage from its parent's checkpoint; write the logs in `out`.

    `steps` overrides the step count of the stages this call runs. Returns the results: config,
    pre-training seconds (None when the base model was cached) and, per stage trained, accuracy
    before/after, steps, seconds; plus the curves.
    """
    if stage not in (*STAGES, "all"):
        raise ValueError(f"run_demo: stage={stage!r} (expected one of {(*STAGES, 'all')})")
    config = config or DemoConfig()
    chain = STAGES if stage == "all" else (stage,)
    if steps is not None:
        config = replace(config, **{f"{s}_steps": steps for s in chain})
    results: dict[str, Any] = {"stage": stage, "config": asdict(config),
                               "pretrain_seconds": None, "stages": {}}  # fmt: skip
    with _recording(out, config.seed, show_progress) as recorder:
        model = _trained(PARENT[chain[0]], config, out, recorder, results)
        for name in chain:
            results["stages"][name] = run_stage(name, model, config, recorder)
            _save(out / f"{name}.pt", stage_key(config, name), model)
    results["curves"] = {k: v for k, v in recorder.curves.items() if k != "pretrain"}
    plot_curves(results["curves"], out)
    write_text_atomic(out / "results.json", json.dumps(results, indent=1))
    return results


def export(out: Path, dest: Path) -> list[Path]:
    """Copy a run's results and its base and SFT weights (in bf16, half the bytes) to `dest`:
    alignment_demo.json, alignment_base.pt, alignment_sft.pt (what lecture 07 loads)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out / "results.json", dest / "alignment_demo.json")
    written = [dest / "alignment_demo.json"]
    for stage in ("base", "sft"):
        saved = torch.load(out / f"{stage}.pt", map_location="cpu", weights_only=True)
        state = {k: v.to(torch.bfloat16) for k, v in saved["model"].items()}
        with atomic_path(dest / f"alignment_{stage}.pt") as tmp:
            torch.save({"key": saved["key"], "model": state}, tmp)
        written.append(dest / f"alignment_{stage}.pt")
    if (out / ABLATION_FILE).exists():
        shutil.copyfile(out / ABLATION_FILE, dest / "alignment_dpo_ablation.json")
        written.append(dest / "alignment_dpo_ablation.json")
    return written


ABLATION_FILE = "dpo_ablation.json"


def dpo_ablation(out: Path = Path("runs/alignment"), config: DemoConfig | None = None,
                 show_progress: bool = False) -> dict[str, Any]:  # fmt: skip
    """What DPO's own term adds: the DPO stage rerun from the same SFT model (cached or trained
    now), same pairs and seed, with its loss as DPO only, DPO + the chosen answers' NLL (the
    chain's setting), and that NLL only. Writes and returns {sft, variants: {name: {accuracy,
    carry_accuracy, margin, dpo_weight, nll_weight}}} (held-out, greedy)."""
    config = config or DemoConfig()
    tok = AdditionTokenizer()
    train, test = split_problems(config.num_digits, config.num_test, config.seed)
    weights = {"DPO only": (1.0, 0.0), "DPO + NLL": (1.0, config.dpo_nll_weight),
               "NLL only": (0.0, config.dpo_nll_weight)}  # fmt: skip
    with _recording(out, config.seed, show_progress) as recorder:
        sft_model = _trained("sft", config, out, recorder, {"stages": {}})
        reference = loops.frozen_copy(sft_model)
        gen = loops.seeded_generator(sft_model, config.seed + 1)
        pairs = loops.on_policy_pairs(reference, tok, test[: config.margin_prompts],
                                      config.dpo_samples, gen)  # fmt: skip
        results: dict[str, Any] = {"sft": loops.evaluate(sft_model, tok, test), "variants": {}}
        for name, (dpo_weight, nll_weight) in weights.items():
            model, label = copy.deepcopy(sft_model), f"dpo ablation: {name}"
            recorder.start(label, config.dpo_steps)
            loops.dpo(model, tok, train, config.dpo_steps, batch_size=config.dpo_batch,
                      beta=config.dpo_beta, lr=config.dpo_lr, nll_weight=nll_weight,
                      num_samples=config.dpo_samples, seed=config.seed, reference=reference,
                      dpo_weight=dpo_weight,
                      log=lambda step, m, at=label: recorder.log(at, step + 1, m))  # fmt: skip
            metrics = loops.evaluate(model, tok, test)
            metrics |= loops.preference_margin(model, reference, tok, pairs, config.dpo_beta)
            results["variants"][name] = metrics | {"dpo_weight": dpo_weight,
                                                   "nll_weight": nll_weight}  # fmt: skip
    write_text_atomic(out / ABLATION_FILE, json.dumps(results, indent=1))
    return results


def _report(results: dict[str, Any]) -> str:
    """One line per stage trained: accuracy (and DPO's margin) before -> after, steps, seconds."""
    lines = []
    if results.get("pretrain_seconds") is not None:
        lines.append(f"base  pre-trained in {results['pretrain_seconds']} s")
    for name, r in results["stages"].items():
        b, a = r["before"], r["after"]
        line = (f"{name:5s} accuracy {b['accuracy']:.3f} -> {a['accuracy']:.3f}  carry "
                f"{b['carry_accuracy']:.3f} -> {a['carry_accuracy']:.3f}")  # fmt: skip
        if "margin" in b:
            line += f"  margin {b['margin']:.3f} -> {a['margin']:.3f}"
        lines.append(line + f"  ({r['steps']} steps, {r['seconds']} s)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stage",
        nargs="?",
        default="all",
        choices=(*STAGES, "all", "dpo-ablation"),
        help="a stage (from its parent's checkpoint), the whole chain, or "
        "dpo-ablation: DPO rerun from the SFT model as DPO only / + NLL / NLL only",
    )
    parser.add_argument(
        "--config", choices=tuple(CONFIGS), default="cpu",
        help="cpu: the full demo; tiny: a seconds-scale smoke run; gpu: larger, on CUDA",
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=None, help="steps of each stage run")
    parser.add_argument("--pretrain-steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/alignment"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest here)")
    parser.add_argument(
        "--export", type=Path, default=None,
        help="also copy results.json and bf16 base/SFT weights there (e.g. lectures/data)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = replace(CONFIGS[args.config](), seed=args.seed)
    if args.pretrain_steps is not None:
        config = replace(config, pretrain_steps=args.pretrain_steps)
    if args.stage == "dpo-ablation":
        if args.steps is not None:
            config = replace(config, dpo_steps=args.steps)
        ablation = dpo_ablation(args.out, config, show_progress=True)
        sft = ablation["sft"]
        sys.stdout.write(f"from SFT      accuracy {sft['accuracy']:.3f}\n")
        for name, m in ablation["variants"].items():
            sys.stdout.write(f"{name:13s} accuracy {m['accuracy']:.3f}  margin {m['margin']:.3f}\n")
        sys.stdout.write(f"wrote {args.out / ABLATION_FILE}\n")
    else:
        results = run_demo(args.stage, args.out, config, args.steps, show_progress=True)
        sys.stdout.write(_report(results))
        sys.stdout.write(f"wrote {args.out / 'results.json'}, log.jsonl, curves_*.svg, *.pt\n")
    if args.export is not None:
        for path in export(args.out, args.export):
            sys.stdout.write(f"exported {path}\n")


if __name__ == "__main__":
    main()
