"""Shared tokenizer fixtures: GPT-2's files loaded once, and tiktoken built offline from them."""

from __future__ import annotations

import pytest

from lm.datafiles import data_path
from lm.tokenizer import GPT2_PATTERN, Tokenizer
from tests.lm.tokenizer.engines import require_native

EOT = "<|endoftext|>"


@pytest.fixture(scope="session", params=["native", "python"])
def gpt2(request: pytest.FixtureRequest) -> Tokenizer:
    """GPT-2's tokenizer on each engine: every test using it runs on both."""
    if request.param == "native":
        require_native()
    return Tokenizer.from_files(
        data_path("gpt2_vocab.json"), data_path("gpt2_merges.txt"), [EOT], engine=request.param
    )


@pytest.fixture(scope="session")
def tiktoken_gpt2(gpt2: Tokenizer):
    """tiktoken's GPT-2 peer built from the same files, never downloaded."""
    tiktoken = pytest.importorskip("tiktoken")
    eot_id = gpt2._special_to_id[EOT]
    ranks = {token: i for i, token in gpt2.vocab.items() if i != eot_id}
    return tiktoken.Encoding(
        name="gpt2_local",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={EOT: eot_id},
    )
