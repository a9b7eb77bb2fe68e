"""Rung 5: the fast byte-level BPE tokenizer, with special tokens and GPT-2's files.

Same merges as `BPETokenizer`, applied per GPT-2 pre-token by merge rank (lowest rank first, as
GPT-2's encoder.py does) with a cache of pre-token -> ids, so a repeated word costs one dict lookup.
Special tokens are cut out before pre-tokenization and are never split; the longest one wins.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

from lm.tokenizer import gpt2_files
from lm.tokenizer.pretokenize import GPT2_REGEX, last_safe_cut, special_tokens_regex

# encode_iterable buffers at least this many characters before looking for a safe cut.
STREAM_BUFFER_CHARS = 1 << 16
# The pre-token cache is dropped past this many entries (bounds memory on huge inputs).
MAX_CACHE_ENTRIES = 1 << 20

VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
SPECIAL_TOKENS_FILE = "special_tokens.txt"


class _PretokenCache(dict[str, tuple[int, ...]]):
    """pre-token -> its ids; a miss runs BPE on the pre-token and remembers the answer."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__()
        self._bpe = tokenizer._bpe

    def __missing__(self, pretoken: str) -> tuple[int, ...]:
        if len(self) >= MAX_CACHE_ENTRIES:
            self.clear()
        ids = self[pretoken] = self._bpe(pretoken)
        return ids


class Tokenizer:
    """Byte-level BPE: `Tokenizer(vocab, merges, ["<|endoftext|>"]).encode("hi<|endoftext|>")`."""

    def __init__(
        self,
        vocab: dict[int, bytes],
        merges: list[tuple[bytes, bytes]],
        special_tokens: list[str] | None = None,
    ) -> None:
        self.vocab = dict(vocab)
        self.merges = list(merges)
        self.special_tokens = list(dict.fromkeys(special_tokens or []))
        self._token_to_id = {token: i for i, token in self.vocab.items()}
        if len(self._token_to_id) != len(self.vocab):
            raise ValueError("Tokenizer: the vocabulary maps two ids to the same bytes")
        for token in self.special_tokens:
            token_bytes = token.encode("utf-8")
            if token_bytes not in self._token_to_id:  # new special tokens go after the last id
                new_id = max(self.vocab, default=-1) + 1
                self.vocab[new_id] = token_bytes
                self._token_to_id[token_bytes] = new_id
        self._special_to_id = {t: self._token_to_id[t.encode("utf-8")] for t in self.special_tokens}
        self._special_regex = special_tokens_regex(self.special_tokens)
        self._byte_ids = self._single_byte_ids()
        self._ranks = self._merge_ranks()
        self._cache = _PretokenCache(self)

    def _single_byte_ids(self) -> list[int]:
        missing = [b for b in range(256) if bytes([b]) not in self._token_to_id]
        if missing:
            raise ValueError(f"Tokenizer: the vocabulary lacks single bytes {missing[:8]!r}...")
        return [self._token_to_id[bytes([b])] for b in range(256)]

    def _merge_ranks(self) -> dict[tuple[int, int], tuple[int, int]]:
        """(left id, right id) -> (rank, merged id)."""
        ranks = {}
        get = self._token_to_id.get
        for rank, (a, b) in enumerate(self.merges):
            ids = (get(a), get(b), get(a + b))
            if None in ids:
                raise ValueError(
                    f"Tokenizer: merge #{rank} {(a, b)!r} uses a token missing from the vocabulary"
                )
            ranks.setdefault((ids[0], ids[1]), (rank, ids[2]))
        return ranks

    @classmethod
    def from_files(
        cls,
        vocab_path: str | os.PathLike[str],
        merges_path: str | os.PathLike[str],
        special_tokens: list[str] | None = None,
    ) -> Tokenizer:
        """Load GPT-2 format files (`vocab.json` + `merges.txt`)."""
        return cls(
            gpt2_files.read_vocab(vocab_path), gpt2_files.read_merges(merges_path), special_tokens
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Tokenizer:
        """Load what `save(directory)` wrote."""
        directory = Path(directory)
        specials_path = directory / SPECIAL_TOKENS_FILE
        specials = []
        if specials_path.exists():
            specials = [s for s in specials_path.read_text(encoding="utf-8").split("\n") if s]
        return cls.from_files(directory / VOCAB_FILE, directory / MERGES_FILE, specials)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write vocab.json, merges.txt (GPT-2 format) and special_tokens.txt (one per line)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        gpt2_files.write_vocab(directory / VOCAB_FILE, self.vocab)
        gpt2_files.write_merges(directory / MERGES_FILE, self.merges)
        if any("\n" in s for s in self.special_tokens):
            raise ValueError(
                f"save: special tokens {self.special_tokens!r} may not contain newlines"
            )
        gpt2_files._write_atomic(
            directory / SPECIAL_TOKENS_FILE, "".join(s + "\n" for s in self.special_tokens)
        )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _bpe(self, pretoken: str) -> tuple[int, ...]:
        """Merge one pre-token's bytes, lowest merge rank first: " the" -> (262,) with GPT-2."""
        byte_ids = self._byte_ids
        parts = [byte_ids[b] for b in pretoken.encode("utf-8")]
        ranks = self._ranks
        while len(parts) > 1:
            best = None
            for pair in zip(parts, parts[1:], strict=False):
                found = ranks.get(pair)
                if found is not None and (best is None or found[0] < best[0]):
                    best, best_pair = found, pair
            if best is None:
                break
            a, b = best_pair
            merged, i, n = [], 0, len(parts)
            while i < n:
                if i + 1 < n and parts[i] == a and parts[i + 1] == b:
                    merged.append(best[1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ignoring special tokens (they are encoded as plain text)."""
        return list(chain.from_iterable(map(self._cache.__getitem__, GPT2_REGEX.findall(text))))

    def encode(self, text: str) -> list[int]:
        """ "hello world" -> [31373, 995] with GPT-2's files; special tokens map to their own id."""
        if self._special_regex is None:
            return self.encode_ordinary(text)
        ids: list[int] = []
        lookup = self._cache.__getitem__
        for i, part in enumerate(self._special_regex.split(text)):
            if i % 2:
                ids.append(self._special_to_id[part])
            elif part:
                ids.extend(chain.from_iterable(map(lookup, GPT2_REGEX.findall(part))))
        return ids

    def encode_iterable(self, iterable: Iterable[str]) -> Iterator[int]:
        """Stream ids for a stream of text (e.g. an open file), in memory bounded by the longest
        stretch without a safe cut point; equals `encode("".join(iterable))`."""
        pieces: list[str] = []
        size = 0
        for chunk in iterable:
            pieces.append(chunk)
            size += len(chunk)
            if size < STREAM_BUFFER_CHARS:
                continue
            buffer = "".join(pieces)
            cut = last_safe_cut(buffer, self.special_tokens, start=len(buffer) // 2)
            if cut == 0:
                pieces, size = [buffer], len(buffer)  # no safe cut yet: keep reading
                continue
            yield from self.encode(buffer[:cut])
            pieces, size = [buffer[cut:]], len(buffer) - cut
        yield from self.encode("".join(pieces))

    def decode(self, ids: Iterable[int]) -> str:
        """[31373, 995] -> "hello world"; bytes that are not valid UTF-8 become U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """[31373] -> b"hello"."""
        try:
            return b"".join(map(self.vocab.__getitem__, ids))
        except KeyError as e:
            raise ValueError(
                f"Tokenizer.decode: id {e.args[0]!r} is outside the vocabulary "
                f"({len(self.vocab)} ids, max {max(self.vocab)})"
            ) from None

    def __getstate__(self) -> dict[str, object]:
        return {"vocab": self.vocab, "merges": self.merges, "special_tokens": self.special_tokens}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["vocab"], state["merges"], state["special_tokens"])  # type: ignore[misc,arg-type]
