"""Training byte-level BPE fast: count pre-tokens in parallel, update pair counts incrementally.

Same rule as `BPETokenizer.train` (most frequent pair; ties -> the lexicographically greater pair
of byte strings), but on GPT-2 pre-tokens (Radford+ 2019) so merges never cross a pre-token or a
special token. Speed comes from three things: (1) pre-tokens are counted once, in several
processes, over file chunks cut at special tokens (whitespace+word segments are counted with the
stdlib `re`, and only distinct segments go through the GPT-2 regex); (2) each merge only revisits
the words that hold the merged pair (an index pair -> words) and adjusts the counts of the
neighbouring pairs; (3) the best pair comes off a heap with lazy deletion. Vocabulary ids: 0..255
are the single bytes (id == byte value), then the special tokens in the order given, then one id
per merge in the order learned.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from lm.tokenizer.file_chunks import chunk_boundaries, read_text_range, start_method
from lm.tokenizer.pretokenize import (
    GPT2_REGEX,
    SAFE_CUT_REGEX,
    SEGMENT_REGEX,
    WHITESPACE_CHARS,
    special_tokens_regex,
)

# Files smaller than this are pre-tokenized in this process (a pool costs more than it saves).
MIN_PARALLEL_BYTES = 4 << 20
# Plain text between special tokens is pre-tokenized in pieces of about this many characters,
# so the list of pre-tokens held at once stays small.
PIECE_CHARS = 1 << 20
CHUNKS_PER_WORKER = 4

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def train_bpe(
    input_path: str | os.PathLike[str],
    vocab_size: int,
    special_tokens: list[str] | None = None,
    *,
    num_workers: int = 2,
    progress: Progress | None = None,
) -> tuple[dict[int, bytes], list[tuple[bytes, bytes]]]:
    """Learn byte-level BPE from a UTF-8 file: returns (vocab {id: bytes}, merges [(left, right)]).

    Example: a file "low low lower", vocab_size 258 -> merges [(b"l", b"o"), (b"lo", b"w")].
    """
    special_tokens = list(dict.fromkeys(special_tokens or []))
    num_merges = vocab_size - 256 - len(special_tokens)
    if num_merges < 0:
        raise ValueError(
            f"train_bpe: vocab_size {vocab_size!r} is below 256 bytes + {len(special_tokens)} "
            f"special tokens = {256 + len(special_tokens)}"
        )
    # the Counter of pre-token strings is dropped as soon as the words are built (memory)
    words, freqs = _words_and_freqs(
        count_pretokens(input_path, special_tokens, num_workers, progress)
    )
    vocab = {i: bytes([i]) for i in range(256)}
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    merges = _merge_words(words, freqs, vocab, num_merges, progress)
    if len(merges) < num_merges:
        warnings.warn(
            f"train_bpe: {str(input_path)!r} ran out of pairs after {len(merges)} merges; "
            f"the vocabulary has {len(vocab)} tokens, not vocab_size={vocab_size}",
            stacklevel=2,
        )
    return vocab, merges


def count_pretokens(
    input_path: str | os.PathLike[str],
    special_tokens: list[str],
    num_workers: int = 2,
    progress: Progress | None = None,
) -> Counter[str]:
    """Pre-token frequencies of a file, special tokens removed: "a a<|e|>a" -> {"a": 2, " a": 1}."""
    path = Path(input_path)
    if not path.is_file():
        raise ValueError(f"train_bpe: input file {str(path)!r} does not exist")
    size = path.stat().st_size
    num_chunks = (
        1 if size < MIN_PARALLEL_BYTES or num_workers <= 1 else num_workers * CHUNKS_PER_WORKER
    )
    bounds = chunk_boundaries(path, num_chunks, special_tokens)
    jobs = [(str(path), lo, hi, special_tokens) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    total: Counter[str] = Counter()
    if progress:
        progress("pre-tokenize", 0, size)
    if len(jobs) == 1:
        total = _count_chunk(jobs[0])
        if progress:
            progress("pre-tokenize", size, size)
        return total
    with multiprocessing.get_context(start_method()).Pool(min(num_workers, len(jobs))) as pool:
        results = pool.imap_unordered(_count_chunk, jobs)
        done = 0
        for counts, (_, lo, hi, _) in zip(results, jobs, strict=False):
            total.update(counts)
            done += hi - lo  # imap_unordered: sizes are approximate, the total is exact
            if progress:
                progress("pre-tokenize", done, size)
    return total


def _count_chunk(job: tuple[str, int, int, list[str]]) -> Counter[str]:
    """Pre-token counts of bytes [lo, hi) of a file (runs in a worker process)."""
    path, lo, hi, special_tokens = job
    try:
        text = read_text_range(path, lo, hi)
    except ValueError as e:
        raise ValueError(f"train_bpe: {e}") from None
    special = special_tokens_regex(special_tokens)
    parts = special.split(text)[::2] if special else [text]
    segments: Counter[str] = Counter()
    for part in parts:
        for piece in _pieces(part):
            segments.update(SEGMENT_REGEX.findall(piece))
    return _pretoken_counts(segments)


def _pretoken_counts(segments: Counter[str]) -> Counter[str]:
    """Pre-token counts from segment counts: {" a,": 2, " a": 1} -> {" a": 3, ",": 2}.

    Each distinct segment is pre-tokenized once, and not one regex call per segment: segments
    with the same count are joined and pre-tokenized in one call. Joining is exact because a
    segment that starts with whitespace and ends with a non-space meets its neighbours at safe
    cuts (see pretokenize.SAFE_CUT_REGEX); the few others (a text's first or last) go alone.
    """
    by_count: defaultdict[int, list[str]] = defaultdict(list)
    counts: Counter[str] = Counter()
    findall = GPT2_REGEX.findall
    for seg, freq in segments.items():
        if seg[0] in WHITESPACE_CHARS and seg[-1] not in WHITESPACE_CHARS:
            by_count[freq].append(seg)
        else:
            for pretoken in findall(seg):
                counts[pretoken] += freq
    for freq, group in by_count.items():
        group_counts = Counter(findall("".join(group)))
        if freq == 1:
            counts.update(group_counts)
        else:
            for pretoken, n in group_counts.items():
                counts[pretoken] += n * freq
    return counts


def _pieces(text: str) -> list[str]:
    """Cut text longer than PIECE_CHARS at safe cut points (pre-tokenization is unchanged)."""
    if len(text) <= PIECE_CHARS:
        return [text]
    pieces, start = [], 0
    while len(text) - start > PIECE_CHARS:
        match = SAFE_CUT_REGEX.search(text, start + PIECE_CHARS)
        if match is None:
            break
        pieces.append(text[start : match.start()])
        start = match.start()
    pieces.append(text[start:])
    return pieces


def _tie_key(token: bytes) -> tuple[int, ...]:
    """A key that sorts byte strings in REVERSE lexicographic order (for a min-heap):
    negate each byte and end with +1 so that a prefix sorts after its extensions."""
    return (*(-b for b in token), 1)


def merge_pairs(
    word_counts: Counter[str] | dict[str, int],
    vocab: dict[int, bytes],
    num_merges: int,
    progress: Progress | None = None,
) -> list[tuple[bytes, bytes]]:
    """Run `num_merges` BPE merges over pre-token counts; extends `vocab` in place, returns merges.

    {"low": 5, "lower": 2}, 2 merges -> [(b"l", b"o"), (b"lo", b"w")].
    """
    return _merge_words(*_words_and_freqs(word_counts), vocab, num_merges, progress)


def _words_and_freqs(
    word_counts: Counter[str] | dict[str, int],
) -> tuple[list[list[int]], list[int]]:
    """Pre-tokens as lists of byte ids, with their counts: {"hi": 3} -> ([[104, 105]], [3])."""
    words: list[list[int]] = []
    freqs: list[int] = []
    for word, freq in word_counts.items():
        ids = list(word.encode("utf-8"))
        if len(ids) > 1:  # single bytes have no pairs and can never change
            words.append(ids)
            freqs.append(freq)
    return words, freqs


def _merge_words(
    words: list[list[int]],
    freqs: list[int],
    vocab: dict[int, bytes],
    num_merges: int,
    progress: Progress | None = None,
) -> list[tuple[bytes, bytes]]:
    """The merge loop over words (modified in place); see merge_pairs."""
    # subtle: a pair (a, b) is stored as the int a * stride + b: int keys hash and compare much
    # faster than tuples, and this loop runs millions of times.
    stride = len(vocab) + num_merges
    counts: defaultdict[int, int] = defaultdict(int)
    # pair -> words that may hold it (lists, not sets: 4x less memory; a stale or repeated entry
    # only costs a visit that finds nothing to merge)
    where: defaultdict[int, list[int]] = defaultdict(list)
    for wi, ids in enumerate(words):
        freq = freqs[wi]
        for a, b in zip(ids, ids[1:], strict=False):
            key = a * stride + b
            counts[key] += freq
            where[key].append(wi)
    tie = {i: _tie_key(token) for i, token in vocab.items()}
    # Pairs seen once stay off the heap until they gain (about half of all pairs: memory); only
    # when nothing better is left is the heap rebuilt with them.
    min_count = 2
    heap = [(-c, tie[k // stride], tie[k % stride], k) for k, c in counts.items() if c >= min_count]
    heapq.heapify(heap)
    merges: list[tuple[bytes, bytes]] = []
    while len(merges) < num_merges:
        if not heap:
            if min_count == 1:
                break  # no pairs left at all
            min_count = 1
            heap = [(-c, tie[k // stride], tie[k % stride], k) for k, c in counts.items() if c > 0]
            heapq.heapify(heap)
            continue
        neg, _, _, key = heapq.heappop(heap)
        current = counts.get(key, 0)
        a, b = divmod(key, stride)
        if current != -neg:  # stale entry: the count fell since it was pushed
            if current >= min_count:
                heapq.heappush(heap, (-current, tie[a], tie[b], key))
            continue
        new_id = len(vocab)
        vocab[new_id] = vocab[a] + vocab[b]
        tie[new_id] = _tie_key(vocab[new_id])
        merges.append((vocab[a], vocab[b]))
        for k in _apply_merge(words, freqs, counts, where, a, b, new_id, stride):
            count = counts[k]
            if count >= min_count:
                heapq.heappush(heap, (-count, tie[k // stride], tie[k % stride], k))
        if progress and len(merges) % 100 == 0:
            progress("merge", len(merges), num_merges)
    if progress:
        progress("merge", num_merges, num_merges)
    return merges


def _apply_merge(
    words: list[list[int]],
    freqs: list[int],
    counts: defaultdict[int, int],
    where: defaultdict[int, list[int]],
    a: int,
    b: int,
    new_id: int,
    stride: int,
) -> set[int]:
    """Merge (a, b) -> new_id in place in every word holding it and move the counts of the
    neighbouring pairs: x a b y loses (x, a), (a, b), (b, y) and gains (x, new), (new, y).
    Returns the pairs that gained (they need a fresh heap entry)."""
    key = a * stride + b
    new_row = new_id * stride
    gained: set[int] = set()
    for wi in where.pop(key):
        ids = words[wi]
        freq = freqs[wi]
        n = len(ids)
        remaining = ids.count(a)  # occurrences of a at or after i
        i = 0
        while remaining:
            i = ids.index(a, i)
            remaining -= 1
            if i + 1 < n and ids[i + 1] == b:
                if i:  # the left neighbour may itself be new_id from a merge just made
                    left = ids[i - 1]
                    counts[left * stride + a] -= freq
                    k = left * stride + new_id
                    counts[k] += freq
                    where[k].append(wi)
                    gained.add(k)
                if i + 2 < n:
                    right = ids[i + 2]
                    counts[b * stride + right] -= freq
                    k = new_row + right
                    counts[k] += freq
                    where[k].append(wi)
                    gained.add(k)
                ids[i] = new_id
                del ids[i + 1]
                n -= 1
                counts[key] -= freq
                if a == b:
                    remaining -= 1  # the b we just consumed was also an a
            i += 1
    del counts[key]
    return gained
