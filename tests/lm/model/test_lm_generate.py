"""lm.generate: KV cache == no cache, padded batches, sampling filters, speculative decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from lm import model as M
from lm.generate import (
    Sampling,
    generate,
    next_token_probs,
    speculative_generate,
    verify_draft,
)


def tiny_lm(seed=0, **overrides):
    torch.manual_seed(seed)
    kwargs = dict(vocab_size=16, context_length=48, d_model=16, num_layers=2, num_heads=2, d_ff=32)  # noqa: C408
    return M.TransformerLM(**{**kwargs, **overrides}).eval()


def test_kv_cache_equals_uncached_at_temperature_zero():
    lm = tiny_lm()
    prompts = [[1, 2, 3, 4, 5], [7], [3, 3, 9]]
    greedy = Sampling(temperature=0)
    cached = generate(lm, prompts, 20, sampling=greedy, use_cache=True)
    uncached = generate(lm, prompts, 20, sampling=greedy, use_cache=False)
    assert cached == uncached
    assert [len(c) for c in cached] == [20, 20, 20]


def test_batched_rows_equal_single_prompts():
    lm = tiny_lm(num_kv_heads=1)
    prompts = [[1, 2, 3, 4, 5, 6], [7], [3, 9]]
    greedy = Sampling(temperature=0)
    batched = generate(lm, prompts, 12, sampling=greedy)
    alone = [generate(lm, [p], 12, sampling=greedy)[0] for p in prompts]
    assert batched == alone


def test_stop_tokens_end_each_row():
    lm = tiny_lm()
    greedy = Sampling(temperature=0)
    free = generate(lm, [[1, 2], [5]], 15, sampling=greedy)
    stop = free[0][3]
    stopped = generate(lm, [[1, 2], [5]], 15, sampling=greedy, stop_tokens=[stop])
    assert stopped[0] == free[0][: free[0].index(stop)]
    expected_1 = free[1][: free[1].index(stop)] if stop in free[1] else free[1]
    assert stopped[1] == expected_1


def test_sampling_filters():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    top2 = next_token_probs(logits, Sampling(top_k=2))
    assert (top2[0, 2:] == 0).all() and top2[0, :2].sum().item() == pytest.approx(1.0)
    probs = torch.softmax(logits, -1)[0]  # 0.636, 0.234, 0.086, ...
    nucleus = next_token_probs(logits, Sampling(top_p=0.8))  # needs tokens 0 and 1
    torch.testing.assert_close(nucleus[0, :2], probs[:2] / probs[:2].sum())
    assert (nucleus[0, 2:] == 0).all()
    assert next_token_probs(logits, Sampling(temperature=0)).tolist() == [[1, 0, 0, 0, 0]]
    hot = next_token_probs(logits, Sampling(temperature=100.0))
    assert hot.max() - hot.min() < 0.05
    with pytest.raises(ValueError, match="top_p=1.5"):
        Sampling(top_p=1.5)


def test_context_overflow_is_a_value_error():
    with pytest.raises(ValueError, match="context_length=48"):
        generate(tiny_lm(), [[1] * 40], 9)


def test_verify_draft_output_follows_target_distribution():
    """With context-free p and q, the first output token must be distributed as p_1."""
    gen = torch.Generator().manual_seed(0)
    V, k, n = 6, 2, 6000
    p = torch.softmax(torch.randn(k + 1, V, generator=gen) * 1.5, -1)
    q = torch.softmax(torch.randn(k, V, generator=gen) * 1.5, -1)
    first = np.zeros(V)
    for _ in range(n):
        draft = torch.stack([torch.multinomial(q[i], 1, generator=gen)[0] for i in range(k)])
        num_accepted, nxt = verify_draft(p, q, draft, gen)
        first[int(draft[0]) if num_accepted else nxt] += 1
    expected = p[0].double().numpy()
    chi2 = stats.chisquare(first, expected / expected.sum() * n)
    assert chi2.pvalue > 1e-3, (first / n, p[0])


def test_speculative_equals_greedy_target_at_temperature_zero():
    target, draft = tiny_lm(0), tiny_lm(1, num_layers=1)
    greedy = Sampling(temperature=0)
    expected = generate(target, [[1, 2, 3]], 20, sampling=greedy)[0]
    tokens, info = speculative_generate(target, draft, [1, 2, 3], 20, num_draft=3, sampling=greedy)
    assert tokens == expected
    assert (
        info["target_calls"] < 20 or info["acceptance_rate"] == 0
    )  # calls shrink when drafts pass
    same, _ = speculative_generate(target, target, [1, 2, 3], 20, num_draft=3, sampling=greedy)
    assert same == expected


@pytest.mark.slow
def test_speculative_matches_target_distribution():
    """Joint distribution of 2 sampled tokens: speculative vs the target's exact probabilities."""
    target = tiny_lm(0, vocab_size=5, d_model=8, num_layers=1)
    draft = tiny_lm(7, vocab_size=5, d_model=8, num_layers=1)
    prompt, n = [1, 2], 1500
    with torch.no_grad():
        p1 = torch.softmax(target(torch.tensor([prompt]))[0, -1], -1)
        nxt = torch.tensor([prompt + [a] for a in range(5)])
        p2 = torch.softmax(target(nxt)[:, -1], -1)  # [5, 5]
    exact = (p1[:, None] * p2).flatten().double().numpy()
    gen = torch.Generator().manual_seed(0)
    counts = np.zeros(25)
    for _ in range(n):
        (a, b), _ = speculative_generate(target, draft, prompt, 2, num_draft=2, generator=gen)
        counts[5 * a + b] += 1
    keep = exact * n >= 5  # chi-square needs expected counts >= 5
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(exact[keep], exact[~keep].sum())
    expected = expected / expected.sum() * n
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_cli_streams_a_continuation_from_a_checkpoint(tmp_path, capsys):
    """`python -m lm.generate --checkpoint ...` rebuilds model and tokenizer and streams tokens."""
    from lm.checkpoint import save_checkpoint
    from lm.generate import main
    from lm.model import TransformerLM
    from lm.tokenizer import Tokenizer, train_bpe

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("once upon a time there was a cat.<|endoftext|>" * 20, encoding="utf-8")
    vocab, merges = train_bpe(corpus, 270, ["<|endoftext|>"])
    Tokenizer(vocab, merges, ["<|endoftext|>"]).save(tmp_path / "tokenizer")
    torch.manual_seed(0)
    model = TransformerLM(len(vocab), 32, 16, 1, 2, 32)
    (tmp_path / "checkpoints").mkdir()
    save_checkpoint(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        0,
        tmp_path / "checkpoints" / "latest.pt",
    )
    main(["--checkpoint", str(tmp_path / "checkpoints" / "latest.pt"), "--prompt", "once upon",
          "--max-new-tokens", "5", "--temperature", "0"])  # fmt: skip
    out = capsys.readouterr().out
    assert out.startswith("once upon") and out.endswith("\n") and len(out) > len("once upon\n")
