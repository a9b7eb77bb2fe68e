"""Training byte-level BPE fast: count pre-tokens in parallel, update pair counts incrementally.

Same rule as `BPETokenizer.train` (most frequent pair; ties -> the lexicographically greater pair
of byte strings), but on GPT-2 pre-tokens (Radford+ 2019) so merges never cross a pre-token or a
special token. Speed comes from three things: (1) pre-tokens are counted once, in several
processes, over file chunks cut at special tokens; (2) each merge only revisits the words that hold
the merged pair (an index pair -> words) and adjusts the counts of the neighbouring pairs; (3) the
best pair comes off a heap with lazy deletion. Vocabulary ids: 0..255 are the single bytes (id ==
byte value), then the special tokens in the order given, then one id per merge in the order
learned.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from lm.tokenizer.pretokenize import GPT2_REGEX, SAFE_CUT_REGEX, special_tokens_regex

# Files smaller than this are pre-tokenized in this process (a pool costs more than it saves).
MIN_PARALLEL_BYTES = 1 << 20
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
    word_counts = count_pretokens(input_path, special_tokens, num_workers, progress)
    vocab = {i: bytes([i]) for i in range(256)}
    for token in special_tokens:
        vocab[len(vocab)] = token.encode("utf-8")
    merges = merge_pairs(word_counts, vocab, num_merges, progress)
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
    with multiprocessing.get_context(_start_method()).Pool(min(num_workers, len(jobs))) as pool:
        results = pool.imap_unordered(_count_chunk, jobs)
        done = 0
        for counts, (_, lo, hi, _) in zip(results, jobs, strict=False):
            total.update(counts)
            done += hi - lo  # imap_unordered: sizes are approximate, the total is exact
            if progress:
                progress("pre-tokenize", done, size)
    return total


def _start_method() -> str:
    # fork is cheapest and the workers only need regex; elsewhere use the platform default
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def chunk_boundaries(path: Path, num_chunks: int, special_tokens: list[str]) -> list[int]:
    """Byte offsets [0, ..., size] cutting the file into about `num_chunks` parts, each cut placed
    at the start of a special token (or, without special tokens, at a safe newline)."""
    size = path.stat().st_size
    markers = [t.encode("utf-8") for t in special_tokens]
    bounds = [0]
    with path.open("rb") as f:
        for k in range(1, num_chunks):
            cut = _next_cut(f, max(size * k // num_chunks, bounds[-1]), size, markers)
            if cut > bounds[-1] and cut < size:
                bounds.append(cut)
    bounds.append(size)
    return bounds


def _next_cut(f, pos: int, size: int, markers: list[bytes]) -> int:  # noqa: ANN001
    """First cut point at or after byte `pos` (size if none)."""
    window = 1 << 16
    while pos < size:
        f.seek(pos)
        data = f.read(window + 64)
        hits = [i for i in (data.find(m) for m in markers) if i != -1]
        if not markers:
            hits = [i + 1 for i in _safe_newlines(data)]
        if hits:
            return pos + min(hits)
        pos += window
    return size


def _safe_newlines(data: bytes) -> list[int]:
    """Positions of b"\\n" between two printable ASCII bytes (surely non-space characters)."""
    out = []
    i = data.find(b"\n", 1)
    while i != -1 and i + 1 < len(data):
        if 0x21 <= data[i - 1] <= 0x7E and 0x21 <= data[i + 1] <= 0x7E:
            out.append(i)
            break
        i = data.find(b"\n", i + 1)
    return out


def _count_chunk(job: tuple[str, int, int, list[str]]) -> Counter[str]:
    """Pre-token counts of bytes [lo, hi) of a file (runs in a worker process)."""
    path, lo, hi, special_tokens = job
    with open(path, "rb") as f:
        f.seek(lo)
        data = f.read(hi - lo)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"train_bpe: {path!r} is not UTF-8 at byte {lo + e.start} ({e.reason})"
        ) from None
    del data
    special = special_tokens_regex(special_tokens)
    parts = special.split(text)[::2] if special else [text]
    counts: Counter[str] = Counter()
    findall = GPT2_REGEX.findall
    for part in parts:
        for piece in _pieces(part):
            counts.update(findall(piece))
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

    The control flow stays in one function: the inner loop is the hot path (see module docstring).
    """
    words: list[list[int]] = []
    freqs: list[int] = []
    for word, freq in word_counts.items():
        ids = list(word.encode("utf-8"))
        if len(ids) > 1:  # single bytes have no pairs and can never change
            words.append(ids)
            freqs.append(freq)
    counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, (ids, freq) in enumerate(zip(words, freqs, strict=True)):
        for pair in zip(ids, ids[1:], strict=False):
            counts[pair] += freq
            where[pair].add(wi)
    keys = {i: _tie_key(token) for i, token in vocab.items()}
    heap = [(-c, keys[a], keys[b], a, b) for (a, b), c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[bytes, bytes]] = []
    while len(merges) < num_merges and heap:
        neg, _, _, a, b = heapq.heappop(heap)
        current = counts.get((a, b), 0)
        if current != -neg:  # stale entry: the count fell since it was pushed
            if current > 0:
                heapq.heappush(heap, (-current, keys[a], keys[b], a, b))
            continue
        new_id = len(vocab)
        vocab[new_id] = vocab[a] + vocab[b]
        keys[new_id] = _tie_key(vocab[new_id])
        merges.append((vocab[a], vocab[b]))
        touched = _apply_merge(words, freqs, counts, where, (a, b), new_id)
        for pair in touched:
            count = counts[pair]
            if count > 0:
                heapq.heappush(heap, (-count, keys[pair[0]], keys[pair[1]], pair[0], pair[1]))
        if progress and len(merges) % 100 == 0:
            progress("merge", len(merges), num_merges)
    if progress:
        progress("merge", num_merges, num_merges)
    return merges


def _apply_merge(
    words: list[list[int]],
    freqs: list[int],
    counts: defaultdict[tuple[int, int], int],
    where: defaultdict[tuple[int, int], set[int]],
    pair: tuple[int, int],
    new_id: int,
) -> set[tuple[int, int]]:
    """Merge `pair` in every word holding it, adjusting neighbour pair counts; returns new pairs."""
    a, b = pair
    touched: set[tuple[int, int]] = set()
    for wi in where.pop(pair):
        ids = words[wi]
        freq = freqs[wi]
        out: list[int] = []
        i, n = 0, len(ids)
        while i < n:
            if ids[i] == a and i + 1 < n and ids[i + 1] == b:
                if out:  # left neighbour: (x, a) -> (x, new)
                    left = out[-1]
                    counts[(left, a)] -= freq
                    counts[(left, new_id)] += freq
                    where[(left, new_id)].add(wi)
                    touched.add((left, new_id))
                if i + 2 < n:  # right neighbour: (b, y) -> (new, y)
                    right = ids[i + 2]
                    counts[(b, right)] -= freq
                    counts[(new_id, right)] += freq
                    where[(new_id, right)].add(wi)
                    touched.add((new_id, right))
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        if len(out) != n:
            counts[pair] -= freq * (n - len(out))
            words[wi] = out
    del counts[pair]
    return touched
