"""Generation with TransformerLM: prefill + decode with a KV cache, sampling, speculative decoding.

Batched prompts of different lengths are left-padded; a key mask hides the padding and each
sequence counts its own positions, so every row equals generating it alone. Speculative decoding
(https://arxiv.org/abs/2211.17192) lets a small draft model propose k tokens that the target checks
in one forward pass; rejection sampling keeps the output distribution exactly the target's.
CLI: `python -m lm.generate --checkpoint runs/x/checkpoints/latest.pt --prompt "Once upon a time"`.

Shape legend: B batch, P prompt length (padded), T tokens in a forward pass, V vocab, k drafts.
"""

from __future__ import annotations

import argparse
import codecs
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lm.model import TransformerLM

PAD_ID = 0  # any id works: padded positions are masked out of attention


@dataclass(frozen=True)
class Sampling:
    """How to pick the next token. temperature 0 = greedy (argmax)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"Sampling: temperature={self.temperature!r} (expected >= 0)")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"Sampling: top_k={self.top_k!r} (expected >= 1 or None)")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"Sampling: top_p={self.top_p!r} (expected in (0, 1] or None)")


def next_token_probs(logits: Tensor, sampling: Sampling) -> Tensor:
    """The distribution we sample from: logits [..., V] -> probs [..., V] (one-hot when greedy)."""
    logits = logits.float()
    if sampling.temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    logits = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.shape[-1]:
        kth = logits.topk(sampling.top_k, dim=-1).values[..., -1:]  # [..., 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if sampling.top_p is not None and sampling.top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (the token crossing it included)
        is_dropped = sorted_probs.cumsum(-1) - sorted_probs >= sampling.top_p
        sorted_probs = sorted_probs.masked_fill(is_dropped, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def sample(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One draw per row: probs [B, V] -> ids [B]."""
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def left_pad(prompts: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """[[5, 6], [7]] -> ids [[5, 6], [PAD, 7]] and key mask [[T, T], [F, T]]."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError(f"generate: every prompt needs at least one token, got {prompts!r}")
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.as_tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = True
    return ids, mask


@torch.no_grad()
def generate_stream(
    model: TransformerLM,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    sampling: Sampling = Sampling(),  # noqa: B008 - frozen dataclass
    stop_tokens: Sequence[int] = (),
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[Tensor]:
    """Yield the next token of every sequence, [B] per step; finished rows yield -1.

    A row finishes after emitting a stop token (not yielded) or when all rows are done.
    """
    device = model.lm_head.weight.device
    ids, key_mask = (t.to(device) for t in left_pad(prompts))  # [B, P]
    B, P = ids.shape
    if P + max_new_tokens > model.context_length:
        raise ValueError(
            f"generate: prompt of {P} + {max_new_tokens} new tokens exceeds "
            f"context_length={model.context_length} (expected at most that many)"
        )
    stops = torch.as_tensor(list(stop_tokens), dtype=torch.long, device=device)
    is_done = torch.zeros(B, dtype=torch.bool, device=device)
    cache = model.new_kv_cache(B, P + max_new_tokens) if use_cache else None
    new_ids = ids  # what the next forward pass reads: the prompt, then one token
    for _ in range(max_new_tokens):
        positions = (key_mask.cumsum(-1) - 1).clamp(min=0)  # [B, S]: each row counts its own
        if cache is not None:
            logits = model(
                new_ids, positions[:, -new_ids.shape[1] :], kv_cache=cache, key_mask=key_mask
            )
        else:
            logits = model(ids, positions, key_mask=key_mask)  # recompute everything
        token = sample(next_token_probs(logits[:, -1], sampling), generator)  # [B]
        is_done |= torch.isin(token, stops)
        yield token.masked_fill(is_done, -1)
        if bool(is_done.all()):
            return
        new_ids = token[:, None]  # [B, 1]
        ids = torch.cat([ids, new_ids], dim=1)  # [B, S+1]
        key_mask = torch.cat([key_mask, torch.ones_like(new_ids, dtype=torch.bool)], dim=1)


def generate(model: TransformerLM, prompts: Sequence[Sequence[int]], max_new_tokens: int,
             **kwargs) -> list[list[int]]:  # fmt: skip
    """New tokens for each prompt (stop tokens excluded): [[5, 6], [7]] -> [[9, 3], [4, 4]]."""
    out: list[list[int]] = [[] for _ in prompts]
    is_done = [False] * len(prompts)
    for step in generate_stream(model, prompts, max_new_tokens, **kwargs):
        for row, token in enumerate(step.tolist()):
            is_done[row] = is_done[row] or token < 0
            if not is_done[row]:
                out[row].append(token)
    return out


def verify_draft(
    p: Tensor, q: Tensor, draft: Tensor, generator: torch.Generator | None = None
) -> tuple[int, int]:
    """Rejection-sample k draft tokens: p [k+1, V] target, q [k, V] draft probs, draft [k].

    Accept draft i with prob min(1, p_i(x)/q_i(x)); at the first rejection draw from
    normalize(max(0, p_i - q_i)); if all k pass, draw a bonus token from p_k+1.
    Returns (number accepted, the token that follows them).
    """
    k = draft.shape[0]
    u = torch.rand(k, generator=generator, device=p.device)
    p_draft = p[:-1].gather(-1, draft[:, None]).squeeze(-1)  # [k]
    q_draft = q.gather(-1, draft[:, None]).squeeze(-1)  # [k]
    is_accepted = u * q_draft <= p_draft  # u < p/q without dividing by a zero q
    for i in range(k):
        if not is_accepted[i]:
            residual = (p[i] - q[i]).clamp(min=0)
            if residual.sum() <= 0:  # p == q exactly: cannot happen after a rejection, but be safe
                residual = p[i]
            return i, int(sample((residual / residual.sum())[None], generator))
    return k, int(sample(p[k][None], generator))


@torch.no_grad()
def speculative_generate(
    target: TransformerLM,
    draft: TransformerLM,
    prompt: Sequence[int],
    max_new_tokens: int,
    num_draft: int = 4,
    sampling: Sampling = Sampling(),  # noqa: B008 - frozen dataclass
    generator: torch.Generator | None = None,
) -> tuple[list[int], dict[str, float]]:
    """Generate with draft proposals checked by the target; returns (tokens, stats).

    Both models keep KV caches; after a rejection they are truncated back to the accepted
    prefix. stats: accepted / proposed drafts and target forward passes.
    """
    device = target.lm_head.weight.device
    total = len(prompt) + max_new_tokens + num_draft + 1
    if total > min(target.context_length, draft.context_length):
        raise ValueError(f"speculative_generate: {total!r} positions exceed a context_length")
    tokens = list(prompt)
    t_cache, d_cache = target.new_kv_cache(1, total), draft.new_kv_cache(1, total)
    proposed = accepted = target_calls = 0

    def feed(model: TransformerLM, cache, new: list[int]) -> Tensor:
        x = torch.tensor([new], device=device)
        return model(x, kv_cache=cache)[0]  # [T, V]

    while len(tokens) - len(prompt) < max_new_tokens:
        k = min(num_draft, max_new_tokens - (len(tokens) - len(prompt)) - 1)
        logits = feed(draft, d_cache, tokens[d_cache.length :])[-1]  # catch up on committed tokens
        drafts, qs = [], []
        for i in range(k):
            qs.append(next_token_probs(logits, sampling))
            drafts.append(int(sample(qs[-1][None], generator)))
            if i < k - 1:
                logits = feed(draft, d_cache, drafts[-1:])[-1]
        start = t_cache.length
        p = next_token_probs(feed(target, t_cache, tokens[start:] + drafts), sampling)
        p = p[len(tokens) - start - 1 :]  # [k+1, V]: the distributions after tokens[-1], d1..dk
        target_calls += 1
        if k:
            n, nxt = verify_draft(
                p, torch.stack(qs), torch.tensor(drafts, device=device), generator
            )
        else:
            n, nxt = 0, int(sample(p[:1], generator))
        proposed, accepted = proposed + k, accepted + n
        tokens += drafts[:n] + [nxt]
        # caches may only hold committed tokens; the newest token is fed next round
        t_cache.truncate(min(t_cache.length, len(tokens) - 1))
        d_cache.truncate(min(d_cache.length, len(tokens) - 1))
    stats = {"proposed": proposed, "accepted": accepted, "target_calls": target_calls,
             "acceptance_rate": accepted / proposed if proposed else 0.0}  # fmt: skip
    return tokens[len(prompt) :], stats


def load_model(checkpoint: str | Path, device: str = "cpu") -> TransformerLM:
    """Rebuild a TransformerLM from a checkpoint written by lm.train (it stores the shapes)."""
    from lm.checkpoint import read_checkpoint

    payload = read_checkpoint(checkpoint)
    if not payload.get("architecture"):
        raise ValueError(f"checkpoint {str(checkpoint)!r} stores no architecture to rebuild from")
    model = TransformerLM(**payload["architecture"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()


def main(argv: list[str] | None = None) -> None:
    """CLI: stream a continuation of --prompt to stdout."""
    from lm.tokenizer import Tokenizer

    parser = argparse.ArgumentParser(prog="python -m lm.generate", description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--tokenizer", help="folder with vocab/merges (default: run dir/tokenizer)")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tok_dir = Path(args.tokenizer or Path(args.checkpoint).resolve().parent.parent / "tokenizer")
    tokenizer = Tokenizer.load(tok_dir)
    model = load_model(args.checkpoint)
    prompt = tokenizer.encode(args.prompt)
    room = model.context_length - len(prompt)
    stops = [tokenizer.encode(s)[0] for s in tokenizer.special_tokens]
    sampling = Sampling(args.temperature, args.top_k, args.top_p)
    generator = torch.Generator().manual_seed(args.seed)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    sys.stdout.write(args.prompt)
    stream = generate_stream(model, [prompt], min(args.max_new_tokens, room), sampling, stops,
                             generator=generator)  # fmt: skip
    for step in stream:
        token = int(step[0])
        if token >= 0:
            sys.stdout.write(decoder.decode(tokenizer.decode_bytes([token])))
            sys.stdout.flush()
    sys.stdout.write(decoder.decode(b"", final=True) + "\n")


if __name__ == "__main__":
    main()
