"""Tokenizers as a ladder: characters -> bytes -> words -> BPE (didactic) -> BPE (fast).

`train_bpe` learns byte-level BPE from a file; `Tokenizer` encodes and decodes with the result or
with GPT-2's own `vocab.json` / `merges.txt`. Run `python -m lm.tokenizer --help` for the CLI.
"""

from lm.tokenizer.base import TokenizerLike, compression_ratio
from lm.tokenizer.bpe import Tokenizer
from lm.tokenizer.bpe_simple import BPETokenizer, count_pairs, merge_pair
from lm.tokenizer.bpe_train import train_bpe
from lm.tokenizer.byte import ByteTokenizer
from lm.tokenizer.character import CharacterTokenizer
from lm.tokenizer.pretokenize import GPT2_PATTERN, pretokenize
from lm.tokenizer.word import WordTokenizer

__all__ = [
    "GPT2_PATTERN",
    "BPETokenizer",
    "ByteTokenizer",
    "CharacterTokenizer",
    "Tokenizer",
    "TokenizerLike",
    "WordTokenizer",
    "compression_ratio",
    "count_pairs",
    "merge_pair",
    "pretokenize",
    "train_bpe",
]
