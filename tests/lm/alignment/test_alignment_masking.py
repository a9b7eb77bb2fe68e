import math

import pytest
import torch

from lm.alignment import (
    compute_entropy,
    get_response_log_probs,
    masked_mean,
    masked_normalize,
    tokenize_prompt_and_output,
)
from tests.lm.alignment.alignment_helpers import BigramLM, CharTokenizer, HFStyleLM


def test_masked_mean_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[1, 0], [1, 1]])
    assert torch.allclose(masked_mean(x, mask, dim=-1), torch.tensor([1.0, 3.5]))
    assert torch.allclose(masked_mean(x, mask, dim=0), torch.tensor([2.0, 4.0]))
    assert masked_mean(x, mask).item() == pytest.approx(8.0 / 3.0)


def test_masked_mean_all_masked_is_nan() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[0, 0], [1, 0]], dtype=torch.bool)
    out = masked_mean(x, mask, dim=-1)
    assert math.isnan(out[0].item()) and out[1].item() == 3.0
    assert math.isnan(masked_mean(x, torch.zeros_like(mask)).item())


def test_masked_ops_ignore_inf_in_masked_positions() -> None:
    x = torch.tensor([[1.0, float("-inf")]])
    mask = torch.tensor([[True, False]])
    assert masked_mean(x, mask, dim=-1).item() == 1.0
    assert masked_normalize(x, mask, dim=-1).item() == 1.0


def test_masked_normalize_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = torch.tensor([[1, 0], [1, 1]])
    out = masked_normalize(x, mask, dim=-1, normalize_constant=2.0)
    assert torch.allclose(out, torch.tensor([0.5, 3.5]))
    assert masked_normalize(x, mask, normalize_constant=4.0).item() == 2.0


def test_masked_shape_mismatch_is_reported() -> None:
    with pytest.raises(ValueError, match=r"mask shape \(2,\)"):
        masked_mean(torch.zeros(2, 2), torch.ones(2))


def test_entropy_matches_definition_and_is_stable() -> None:
    logits = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0))
    p = torch.softmax(logits, -1)
    expected = -(p * torch.log(p)).sum(-1)
    assert torch.allclose(compute_entropy(logits), expected, atol=1e-6)
    uniform = torch.zeros(4)
    assert compute_entropy(uniform).item() == pytest.approx(math.log(4))
    huge = torch.tensor([1e4, 0.0, -1e4])  # naive p*log(p) gives NaN here
    assert compute_entropy(huge).item() == pytest.approx(0.0, abs=1e-6)


def test_tokenize_prompt_and_output_shapes_and_masks() -> None:
    tok = CharTokenizer()
    batch = tokenize_prompt_and_output(["ab", "a"], ["c", "bcd"], tok)
    a, b, c, d = (tok.stoi[ch] for ch in "abcd")
    pad = tok.pad_id
    # full rows: [a b c pad], [a b c d] -> max_len 4, tensors [2, 3]
    assert batch["input_ids"].tolist() == [[a, b, c], [a, b, c]]
    assert batch["labels"].tolist() == [[b, c, pad], [b, c, d]]
    assert batch["response_mask"].tolist() == [[False, True, False], [True, True, True]]
    assert batch["response_mask"].dtype == torch.bool
    assert all(v.shape == (2, 3) for v in batch.values())


def test_tokenize_prompt_and_output_rejects_mismatch() -> None:
    with pytest.raises(ValueError, match="2 prompts but 1 outputs"):
        tokenize_prompt_and_output(["a", "b"], ["c"], CharTokenizer())


def test_tokenize_uses_hf_style_pad_and_no_special_tokens() -> None:
    class HFLike:
        pad_token_id = 99

        def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
            return ([1] if add_special_tokens else []) + [ord(c) for c in text]

    batch = tokenize_prompt_and_output(["a"], ["bc"], HFLike())
    assert batch["input_ids"].tolist() == [[97, 98]]
    assert batch["labels"].tolist() == [[98, 99]]


@pytest.mark.parametrize("model_cls", [BigramLM, HFStyleLM])
def test_get_response_log_probs_by_hand(model_cls: type) -> None:
    tok = CharTokenizer()
    model = model_cls(tok.vocab_size)
    batch = tokenize_prompt_and_output(["ab"], ["cd"], tok)
    out = get_response_log_probs(model, batch["input_ids"], batch["labels"], True)
    table = model.table.detach()
    ids = tok.encode("abcd")
    expected = [torch.log_softmax(table[ids[t]], -1)[ids[t + 1]].item() for t in range(3)]
    assert out["log_probs"].shape == (1, 3) and out["token_entropy"].shape == (1, 3)
    assert out["log_probs"][0].tolist() == pytest.approx(expected, abs=1e-6)
    assert out["token_entropy"][0, 0].item() == pytest.approx(compute_entropy(table[ids[0]]).item())
