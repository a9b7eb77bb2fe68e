"""Benchmark GRPO rollouts: our batched KV-cache generation vs naive generation; GRPO step rate.

1. Rollouts per second at the demo's model size (lm.alignment.loops.ModelSize), sampling a fixed
   number of new tokens per prompt (no early stop, so every variant does the same work):
   - ours: lm.generate.generate, all prompts in one left-padded batch, KV cache (prefill + decode);
   - batched, no cache: the same batch, recomputing the whole sequence for every new token;
   - naive: one prompt at a time, recomputing the whole sequence for every new token.
2. One GRPO step (rollouts + group-normalised rewards + 2 epochs of the clipped loss) in rollouts
   per second, with our generation vs naive generation.

Run: PYTHONPATH=. python benchmarks/alignment.py [--prompts 32] [--new-tokens 56] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lm.alignment import loops
from lm.alignment.addition_task import AdditionTokenizer, Problem, split_problems
from lm.alignment.grpo import compute_group_normalized_rewards, grpo_microbatch_train_step
from lm.alignment.masking import get_response_log_probs
from lm.alignment.rewards import r1_zero_reward_fn
from lm.generate import Sampling, generate


@torch.no_grad()
def naive_generate(model, prompts: list[list[int]], new_tokens: int, generator) -> list[list[int]]:
    """One prompt at a time, the full sequence re-run for every token: the textbook loop."""
    out = []
    for prompt in prompts:
        ids = torch.tensor([prompt])  # [1, S]
        for _ in range(new_tokens):
            probs = torch.softmax(model(ids)[:, -1].float(), dim=-1)  # [1, V]
            token = torch.multinomial(probs, 1, generator=generator)  # [1, 1]
            ids = torch.cat([ids, token], dim=1)
        out.append(ids[0, len(prompt) :].tolist())
    return out


def best_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=loops.MAX_NEW_TOKENS)
    parser.add_argument("--group", type=int, default=8, help="GRPO group size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tok = AdditionTokenizer()
    size = loops.ModelSize()
    model = loops.make_model(tok, size).eval()
    train, _ = split_problems()
    prompts = [tok.encode(p.prompt) for p in train[: args.prompts]]
    gen = torch.Generator().manual_seed(0)
    sampling = Sampling(temperature=1.0)
    n, k = len(prompts), args.new_tokens
    print(f"model d_model={size.d_model} layers={size.num_layers}, {n} prompts x {k} new tokens, "
          f"{torch.get_num_threads()} thread(s), best of {args.repeats}")  # fmt: skip

    variants = {
        "ours (batched, KV cache)": lambda: generate(model, prompts, k, sampling=sampling,
                                                     generator=gen),
        "batched, no cache": lambda: generate(model, prompts, k, sampling=sampling,
                                              use_cache=False, generator=gen),
        "naive (one at a time, no cache)": lambda: naive_generate(model, prompts, k, gen),
    }  # fmt: skip
    rates = {}
    for name, fn in variants.items():
        seconds = best_seconds(fn, args.repeats if "naive" not in name else 1)
        rates[name] = n / seconds
        print(f"  {name:34s} {rates[name]:8.1f} rollouts/s")
    ours = rates["ours (batched, KV cache)"]
    for name, rate in rates.items():
        if not name.startswith("ours"):
            print(f"  speedup of ours over {name}: {ours / rate:.1f}x")

    # One GRPO step: rollouts (timed above, per rollout) + rewards + 2 epochs of clipped updates.
    problems: list[Problem] = list(train[: max(n // args.group, 1)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generation_seconds: list[float] = []

    def update() -> None:
        start = time.perf_counter()
        roll = loops.grpo_step_tensors(model, tok, problems, args.group, generator=gen)
        generation_seconds.append(time.perf_counter() - start)  # includes old log-probs
        texts = [r.strip() for r in roll["responses"]]
        truths = [p.answer for p in problems for _ in range(args.group)]
        adv, _, _ = compute_group_normalized_rewards(r1_zero_reward_fn, texts, truths, args.group,
                                                     1e-6, True)  # fmt: skip
        batch = roll["batch"]
        model.train()
        for _ in range(2):
            lp = get_response_log_probs(model, batch["input_ids"], batch["labels"])["log_probs"]
            optimizer.zero_grad(set_to_none=True)
            grpo_microbatch_train_step(lp, batch["response_mask"], 1, "grpo_clip",
                                       advantages=adv[:, None],
                                       old_log_probs=roll["old_log_probs"],
                                       cliprange=0.2)  # fmt: skip
            optimizer.step()

    rollouts = len(problems) * args.group
    step = statistics.median(best_seconds(update, 1) for _ in range(args.repeats))
    gen_ours = statistics.median(generation_seconds)
    # the same step with naive generation: our rollout time swapped for the naive one
    naive_step = step - gen_ours + rollouts / rates["naive (one at a time, no cache)"]
    print(f"GRPO step ({len(problems)} prompts x group {args.group} = {rollouts} rollouts, "
          f"up to {loops.MAX_NEW_TOKENS} new tokens, 2 epochs):")  # fmt: skip
    print(f"  ours  {step:6.2f} s/step  {rollouts / step:7.1f} rollouts/s")
    print(f"  naive {naive_step:6.2f} s/step  {rollouts / naive_step:7.1f} rollouts/s "
          f"(our rollout time {gen_ours:.2f} s swapped for naive generation's)")  # fmt: skip
    print(f"  GRPO step speedup from our generation: {naive_step / step:.1f}x")


if __name__ == "__main__":
    main()
