"""Lecture 07: Alignment

From a base model to a useful one: what pre-training leaves missing, supervised fine-tuning on
demonstrations (with the prompt masked out of the loss), learning from feedback (preference data,
verifiers, PPO), DPO derived from the RLHF objective, and GRPO's group baseline. A tiny model that
adds two-digit numbers is aligned live; the curves of the full demo (lm.alignment.demo) close it.
"""

import json
import os
import random
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # plots are stored as SVG, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from execlecture import link, note, plot, text  # noqa: E402
from lm.alignment import (  # noqa: E402
    compute_group_normalized_rewards,
    dpo_loss,
    get_response_log_probs,
    grpo_microbatch_train_step,
    loops,  # noqa: E402
    masked_mean,
    r1_zero_reward_fn,
    tokenize_prompt_and_output,
)
from lm.alignment.addition_task import (  # noqa: E402
    AdditionTokenizer,
    Problem,
    base_text,
    preference_pair,
    split_problems,
    worked,
)
from lm.alignment.demo import DemoConfig  # noqa: E402
from lm.alignment.dpo import sequence_log_probs  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
DATA = Path(__file__).parent / "data" / "alignment_demo.json"  # saved by lm.alignment.demo all
BASE = Path(__file__).parent / "data" / "alignment_base.pt"  # its base model, bf16 weights
torch.set_num_threads(1)  # two threads on two busy cores are slower than one


def main():
    what_base_models_lack()  # a pre-trained model continues text; it does not follow a format
    supervised_fine_tuning()  # demonstrations, loss only on the response
    learning_from_feedback()  # preference data, verifiers, PPO in one paragraph
    direct_preference_optimization()  # the RLHF optimum turned into a classification loss
    group_relative_policy_optimization()  # a group of samples is its own baseline
    live_demo()  # a tiny adder: base -> SFT -> GRPO step, rewards, advantages, ratios
    full_demo_curves()  # the full CPU demo's accuracies, read from its results file


def what_base_models_lack():
    """What a base model lacks"""
    text("# Alignment")
    text(
        "Pre-training teaches a model the distribution of its data: given a prefix, what usually "
        "comes next. That is not the same as doing what we want. The data mixes good and bad "
        "answers, many formats, and text that never answers at all, and the model reproduces "
        "the mixture. *Alignment* reshapes that distribution toward outputs that are useful, "
        "well formatted and correct."
    )
    text(
        "Our running example is a task we can check exactly: adding two-digit numbers with a "
        "short chain of thought. The *base* data is flawed on purpose: some documents are bare "
        "sums without the format, and most worked examples forget the carry."
    )
    rng = random.Random(0)
    good = "12+34=" + worked(12, 34)  # @inspect good
    forgot = "47+38=" + worked(47, 38, forget_carry=True)  # @inspect forgot
    samples = [
        base_text(Problem(47, 38), rng, 0.2, 0.6).strip() for _ in range(4)
    ]  # @inspect samples
    text(
        "A model trained on this learns the mixture: it often skips the format, and on sums "
        "with a carry it mostly repeats the mistake. The verifier below grades the format "
        "`<think>...</think> <answer>...</answer>` and the answer:"
    )
    graded = [r1_zero_reward_fn(s.split("=", 1)[1], "85") for s in samples[:2]]  # @inspect graded
    link(
        url="https://arxiv.org/abs/2203.02155",
        title="Training language models to follow instructions with human feedback",
        authors=["Long Ouyang", "Jeff Wu", "et al."],
        date="2022",
    )


def supervised_fine_tuning():
    """SFT: imitate demonstrations, masking the prompt"""
    text("## Supervised fine-tuning (SFT)")
    text(
        "Collect demonstrations (prompt, good response) and maximise the likelihood of the "
        "response given the prompt: $\\mathcal{L} = -\\sum_t \\log \\pi_\\theta(y_t \\mid x, y_{<t})$. "
        "The prompt is input, not a target: its tokens are masked out of the loss, so the model "
        "learns to *answer*, not to write questions."
    )
    tok = AdditionTokenizer()
    batch = tokenize_prompt_and_output(["47+38="], [worked(47, 38)[:16]], tok)
    labels = tok.decode(batch["labels"][0].tolist())  # @inspect labels
    mask = "".join("1" if m else "0" for m in batch["response_mask"][0].tolist())  # @inspect mask
    text(
        "The labels are the inputs shifted by one; the mask is 1 exactly where the label is a "
        "response token. `sft_microbatch_train_step` sums the masked log-likelihood, divides by "
        "a normalising constant and by the gradient-accumulation steps, and calls `backward()`."
    )
    link(tokenize_prompt_and_output)


def learning_from_feedback():
    """Preference data, verifiers, PPO"""
    text("## Learning from feedback")
    text(
        "Demonstrations are expensive and cap the model at the demonstrator. Judging is easier "
        "than writing: **preference data** asks people (or models) which of two responses is "
        "better, and a **verifier** checks a response automatically (unit tests, a math answer, "
        "our adder's sum). Both give a reward $r(x, y)$ to optimise."
    )
    text(
        "RLHF maximises reward while staying close to a reference model $\\pi_{ref}$ (the SFT "
        "model): $\\max_\\pi \\mathbb{E}_{x, y \\sim \\pi}[r(x, y)] - \\beta\\, "
        "\\mathrm{KL}(\\pi(\\cdot|x) \\,\\|\\, \\pi_{ref}(\\cdot|x))$. **PPO** does this with a "
        "learned reward model, a learned value function $V(s)$ as the baseline for advantages "
        "$A_t = r + \\gamma V(s_{t+1}) - V(s_t)$ (with GAE), and a clipped ratio objective "
        "$\\min(\\rho_t A_t, \\mathrm{clip}(\\rho_t, 1-\\epsilon, 1+\\epsilon) A_t)$, "
        "$\\rho_t = \\pi_\\theta / \\pi_{old}$, so each batch of samples can be reused for a "
        "few steps without the policy running away. Four models in memory (policy, reference, "
        "reward, value) make it heavy."
    )
    link(
        url="https://arxiv.org/abs/1707.06347",
        title="Proximal Policy Optimization Algorithms",
        authors=[
            "John Schulman",
            "Filip Wolski",
            "Prafulla Dhariwal",
            "Alec Radford",
            "Oleg Klimov",
        ],
        date="2017",
    )


def direct_preference_optimization():
    """DPO derived from the RLHF objective"""
    text("## DPO: the RLHF optimum in closed form")
    text(
        "The KL-regularised objective has an exact optimum: "
        "$\\pi^*(y|x) = \\frac{1}{Z(x)} \\pi_{ref}(y|x) \\exp(r(x,y)/\\beta)$. Solve for the "
        "reward: $r(x, y) = \\beta \\log \\frac{\\pi^*(y|x)}{\\pi_{ref}(y|x)} + \\beta \\log Z(x)$. "
        "Under the Bradley-Terry model $p(y_w \\succ y_l) = \\sigma(r(x, y_w) - r(x, y_l))$ the "
        "intractable $Z(x)$ cancels, and maximum likelihood on preference pairs becomes"
    )
    text(
        "$\\mathcal{L}_{DPO} = -\\log \\sigma\\Big(\\beta \\log "
        "\\frac{\\pi_\\theta(y_w|x)}{\\pi_{ref}(y_w|x)} - \\beta \\log "
        "\\frac{\\pi_\\theta(y_l|x)}{\\pi_{ref}(y_l|x)}\\Big)$"
    )
    text(
        "No reward model, no sampling: a classification loss on summed log-probs. At the start, "
        "policy = reference, so the margin is 0 and the loss is $\\log 2$:"
    )
    zero = torch.zeros(1)
    loss, _ = dpo_loss(zero, zero, zero, zero, beta=0.1)
    start_loss = round(float(loss[0]), 4)  # @inspect start_loss
    link(
        url="https://arxiv.org/abs/2305.18290",
        title="Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        authors=["Rafael Rafailov", "Archit Sharma", "Eric Mitchell", "et al."],
        date="2023",
    )


def group_relative_policy_optimization():
    """GRPO: a group baseline instead of a value function"""
    text("## GRPO: the group is the baseline")
    text(
        "With a verifier the reward is exact, so no reward model is needed; GRPO also drops the "
        "value function. Sample a group of $G$ responses to the same prompt and use the group's "
        "statistics as the baseline: $A_i = \\frac{r_i - \\mathrm{mean}(r_{1..G})}"
        "{\\mathrm{std}(r_{1..G}) + \\epsilon}$, the same for every token of response $i$. "
        "Then apply PPO's clipped ratio loss per token. Better-than-group responses are pushed "
        "up, worse ones down; a group that is all right or all wrong teaches nothing."
    )
    rewards = {"r": lambda response, truth: {"reward": float(response == truth),
                                             "format_reward": 1.0,
                                             "answer_reward": float(response == truth)}}  # fmt: skip
    advantages, raw, _ = compute_group_normalized_rewards(
        rewards["r"], ["85", "75", "85", "75", "75", "75", "75", "75"], ["85"] * 8,
        group_size=4, advantage_eps=1e-6, normalize_by_std=True,
    )  # fmt: skip
    group_rewards = raw.view(2, 4).tolist()  # @inspect group_rewards
    group_advantages = advantages.view(2, 4).round(decimals=3).tolist()  # @inspect group_advantages
    link(
        url="https://arxiv.org/abs/2402.03300",
        title="DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models",
        authors=["Zhihong Shao", "Peiyi Wang", "et al."],
        date="2024",
    )


def live_demo():
    """The demo, live at tiny scale"""
    text("## Live: aligning a tiny adder")
    text(
        "The base model of the full demo (pre-trained for a few minutes on the flawed mixture by "
        "`python -m lm.alignment.demo`; its weights ship with this lecture in bf16) is loaded, "
        "and then aligned live on a small scale."
    )
    config = DemoConfig()
    tok = AdditionTokenizer()
    train, test = split_problems(num_test=config.num_test, seed=config.seed)
    test = test[: 16 if IS_SMOKE else 100]
    model = loops.make_model(tok, config.size)
    saved = torch.load(BASE, map_location="cpu", weights_only=True)["model"]
    model.load_state_dict({name: w.float() for name, w in saved.items()})
    parameters = sum(p.numel() for p in model.parameters())  # @inspect parameters
    text("Greedy answers of the base model, and its scores on held-out sums:")
    base_answers = loops.rollouts(model, tok, ["47+38=", "12+34="], 0.0)  # @inspect base_answers
    base_metrics = loops.evaluate(model, tok, test)  # @inspect base_metrics
    text(
        "It follows the format and adds without carries, but it forgets every carry: greedy "
        "decoding repeats the majority mistake of its data."
    )

    text("One GRPO step: sample a group per prompt, grade with the verifier, normalise in groups.")
    gen = torch.Generator().manual_seed(0)
    problems = [p for p in train if p.a % 10 + p.b % 10 >= 10][: 2 if IS_SMOKE else 4]
    roll = loops.grpo_step_tensors(model, tok, problems, group_size=4, generator=gen)
    responses = [r.strip() for r in roll["responses"][:4]]  # @inspect responses
    rewards = roll["raw_rewards"].view(-1, 4).tolist()  # @inspect rewards
    advantages = roll["advantages"].view(-1, 4).round(decimals=3).tolist()  # @inspect advantages
    batch = roll["batch"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    for _ in range(2):  # two epochs on the same samples: the ratio moves away from 1
        log_probs = get_response_log_probs(model, batch["input_ids"], batch["labels"])["log_probs"]
        optimizer.zero_grad()
        loss, meta = grpo_microbatch_train_step(
            log_probs, batch["response_mask"], 1, "grpo_clip",
            advantages=roll["advantages"][:, None], old_log_probs=roll["old_log_probs"],
            cliprange=0.2,
        )  # fmt: skip
        optimizer.step()
    ratios = (
        masked_mean(meta["ratio"], batch["response_mask"], dim=-1).round(decimals=4)[:8].tolist()
    )  # @inspect ratios
    clip_fraction = round(float(meta["clip_fraction"]), 4)  # @inspect clip_fraction
    note(
        "In the first epoch the ratio is exactly 1 (policy = old policy); the second epoch, after "
        "one update, shows ratios away from 1: above 1 for responses with positive advantage."
    )

    text("A few more GRPO steps (8 prompts x 8 samples each), with the mean reward per step:")
    grpo_rewards = []
    loops.grpo(model, tok, train, 2 if IS_SMOKE else 6, prompts_per_step=8, group_size=8,
               log=lambda step, m: grpo_rewards.append(round(m["reward"], 3)))  # fmt: skip
    grpo_metrics = loops.evaluate(model, tok, test)  # @inspect grpo_rewards grpo_metrics
    text("Then a few SFT steps on correct worked examples:")
    sft_losses = []
    loops.sft(model, tok, train, 4 if IS_SMOKE else 20, batch_size=16, lr=5e-4,
              log=lambda step, m: sft_losses.append(round(m["loss"], 3)))  # fmt: skip
    sft_metrics = loops.evaluate(model, tok, test)  # @inspect sft_losses sft_metrics

    text("The summed log-probs DPO compares, for one (correct, carry-forgetting) pair, now:")
    chosen, rejected = preference_pair(Problem(47, 38))
    logps = sequence_log_probs(model, tok, ["47+38="] * 2, [chosen, rejected]).detach()
    logp_chosen = round(float(logps[0]), 2)  # @inspect logp_chosen
    logp_rejected = round(float(logps[1]), 2)  # @inspect logp_rejected


def full_demo_curves():
    """Curves from the full demo"""
    text("## The full demo")
    text(
        "`python -m lm.alignment.demo all` pre-trains a bigger adder on the flawed mixture, then "
        "runs SFT, DPO and GRPO, each starting from that same base model, evaluating exact-match "
        "accuracy on 200 held-out sums (greedy decoding). Its results file, read here:"
    )
    results = json.loads(DATA.read_text(encoding="utf-8"))
    summary = {
        stage: {
            "before": round(r["before"]["accuracy"], 3),
            "after": round(r["after"]["accuracy"], 3),
            "steps": r["steps"],
            "seconds": r["seconds"],
        }
        for stage, r in results["stages"].items()
    }  # @inspect summary
    fig, axes = plt.subplots(1, len(results["curves"]), figsize=(4 * len(results["curves"]), 3))
    for ax, (stage, c) in zip(axes, results["curves"].items(), strict=True):
        ax.plot(c["eval_step"], c["eval_accuracy"], "o-", label="held-out accuracy")
        if "reward" in c:
            ax.plot(c["step"], c["reward"], alpha=0.6, label="rollout reward")
        if "pair_accuracy" in c:
            ax.plot(c["step"], c["pair_accuracy"], alpha=0.6, label="pair accuracy")
        ax.set(title=stage.upper(), xlabel="step", ylim=(0, 1.02))
        ax.legend(fontsize=7)
    fig.tight_layout()
    plot(fig)
    plt.close(fig)
    base = results["stages"]["sft"]["before"]
    gains = {
        s: r["after"]["accuracy"] - r["before"]["accuracy"] for s, r in results["stages"].items()
    }
    text(
        f"The base model answers {base['accuracy']:.1%} of held-out sums correctly "
        f"({base['carry_accuracy']:.1%} of those with a carry). Accuracy gained per method: "
        + ", ".join(f"{s.upper()} {g:+.1%}" for s, g in gains.items())
        + ". SFT imitates exactly the wanted behaviour, the strongest signal when we have it; "
        "DPO learns from pairs without sampling; GRPO needs no demonstrations at all, only a "
        "checker, and learns from the model's own samples."
    )
    note(
        "Pure DPO on these fixed (off-policy) pairs kept lowering accuracy when run longer or "
        "after SFT: it can push down both responses and the tokens they share. The demo adds the "
        "chosen responses' likelihood to the loss (as RPO does) and stops early."
    )


if __name__ == "__main__":
    main()
