"""Encoding many texts or one big file on several threads (C engine) or processes (Python engine).

With the C engine (see native.py) the work runs on threads: ctypes releases the GIL while C
encodes, and each thread has its own engine and cache (the threads are kept while the tokenizer
lives, so those caches stay warm from call to call). With the Python engine the GIL keeps
threads from helping, so it runs on processes: `encode_batch` cuts the texts into equal runs, the
caller encodes the first run itself, forked workers (each with its own `Tokenizer` and caches) the
others, and each worker sends back one flat numpy array per run, which pickles far faster than
lists of ints. `encode_file` writes a `.npy` of token ids (uint16 when the vocabulary fits) through
`np.lib.format.open_memmap`, streaming: memory stays bounded by a few chunks whatever the file size.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain
from pathlib import Path

import numpy as np

from lm.tokenizer.bpe import Tokenizer
from lm.tokenizer.file_chunks import chunk_boundaries, read_text_range, start_method

# encode_file hands each worker about this many bytes at a time.
CHUNK_BYTES = 1 << 20
# ids are copied from the temporary raw file into the .npy in blocks of this many.
COPY_BLOCK = 1 << 24

# encode_batch encodes fewer characters than this on the calling thread alone (C engine):
# handing work to another thread costs more than it saves
THREAD_MIN_CHARS = 1 << 15

# each tokenizer's worker threads (C engine), see _threads
_pools: weakref.WeakKeyDictionary[Tokenizer, tuple[int, ThreadPoolExecutor]] = (
    weakref.WeakKeyDictionary()
)
_pools_lock = threading.Lock()

_worker_tokenizer: Tokenizer | None = None
_worker_texts: Sequence[str] = ()


def _init_worker(tokenizer: Tokenizer, texts: Sequence[str] = ()) -> None:
    global _worker_tokenizer, _worker_texts
    _worker_tokenizer, _worker_texts = tokenizer, texts


def _encode_group(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """texts[lo:hi] encoded, as (all ids in one array, each text's number of ids)."""
    assert _worker_tokenizer is not None
    lo, hi = bounds
    encoded = list(map(_worker_tokenizer.encode, _worker_texts[lo:hi]))
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    flat = np.fromiter(chain.from_iterable(encoded), id_dtype(_worker_tokenizer), lengths.sum())
    return flat, lengths


def encode_batch(
    tokenizer: Tokenizer, texts: Sequence[str], num_workers: int = 2
) -> list[list[int]]:
    """`[tokenizer.encode(t) for t in texts]`, computed by `num_workers` threads (C engine) or
    processes (Python engine).

    The texts are cut into `num_workers` runs of about equal size. The caller encodes the first
    itself (so its caches warm up for later calls, and its ids need no transfer) while
    `num_workers - 1` workers encode the rest. C engine: each run is one C call on one of the
    tokenizer's kept threads; under THREAD_MIN_CHARS characters in all, the caller does it alone.
    Python engine: worker processes send back one flat array per run (a list of Python ints
    pickles ~10x slower); under the fork start method they inherit the texts and the tokenizer
    instead of receiving them pickled.
    """
    sizes = [len(t) for t in texts]
    native = tokenizer.engine_in_use == "native"
    if num_workers <= 1 or (native and sum(sizes) < THREAD_MIN_CHARS):
        return tokenizer._encode_many(texts)
    runs = _even_runs(sizes, num_workers) if texts else []
    if len(runs) <= 1:
        return tokenizer._encode_many(texts)
    if native:  # one C call per run, each run on its own thread
        others = _threads(tokenizer, len(runs) - 1).map(
            lambda run: tokenizer._encode_many(texts[run[0] : run[1]]), runs[1:]
        )
        out = tokenizer._encode_many(texts[runs[0][0] : runs[0][1]])
        for encoded in others:
            out += encoded
        return out
    context = multiprocessing.get_context(start_method())
    with context.Pool(len(runs) - 1, initializer=_init_worker, initargs=(tokenizer, texts)) as pool:
        pending = pool.map_async(_encode_group, runs[1:])
        out = [tokenizer.encode(t) for t in texts[runs[0][0] : runs[0][1]]]
        for flat, lengths in pending.get():
            ids = flat.tolist()
            stops = np.cumsum(lengths).tolist()
            out += map(ids.__getitem__, map(slice, [0, *stops[:-1]], stops))
    return out


def _threads(tokenizer: Tokenizer, size: int) -> ThreadPoolExecutor:
    """`size` or more worker threads for `tokenizer`, kept while it lives: each thread's C engine
    (and its cache of encoded pre-tokens) stays warm from one call to the next."""
    with _pools_lock:
        pool = _pools.get(tokenizer)
        if pool is None or pool[0] < size:
            if pool is not None:
                pool[1].shutdown(wait=False)
            pool = _pools[tokenizer] = (size, ThreadPoolExecutor(size, "tokenizer"))
        return pool[1]


def _even_runs(sizes: list[int], num_runs: int) -> list[tuple[int, int]]:
    """Cut range(len(sizes)) into at most `num_runs` non-empty (lo, hi) runs of about equal
    total size: [5, 1, 1, 3], 2 -> [(0, 1), (1, 4)]."""
    ends = np.cumsum(sizes)
    targets = ends[-1] * np.arange(1, num_runs) / num_runs
    cuts = np.searchsorted(ends, targets, side="left") + 1  # first run holding each target
    bounds = sorted({0, len(sizes), *np.clip(cuts, 1, len(sizes)).tolist()})
    return list(zip(bounds, bounds[1:], strict=False))


def _pool(tokenizer: Tokenizer, num_workers: int) -> multiprocessing.pool.Pool:
    context = multiprocessing.get_context(start_method())
    return context.Pool(num_workers, initializer=_init_worker, initargs=(tokenizer,))


def _encode_range(job: tuple[str, int, int]) -> np.ndarray:
    assert _worker_tokenizer is not None
    return _encode_text_range(_worker_tokenizer, job)


def _encode_text_range(tokenizer: Tokenizer, job: tuple[str, int, int]) -> np.ndarray:
    path, lo, hi = job
    text = read_text_range(path, lo, hi)
    return np.frombuffer(tokenizer.encode_to_array(text), dtype=np.uint32)


def id_dtype(tokenizer: Tokenizer) -> np.dtype:
    """uint16 when every id fits (GPT-2's 50,257 do), else uint32."""
    return np.dtype(np.uint16 if max(tokenizer.vocab) < 1 << 16 else np.uint32)


def encode_file(
    tokenizer: Tokenizer,
    input_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    num_workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Encode a UTF-8 file into a .npy of ids (written atomically); returns the number of ids."""
    path, out = Path(input_path), Path(out_path)
    if not path.is_file():
        raise ValueError(f"encode_file: input file {str(path)!r} does not exist")
    size = path.stat().st_size
    bounds = chunk_boundaries(path, max(num_workers, size // CHUNK_BYTES), tokenizer.special_tokens)
    jobs = [(str(path), lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    dtype = id_dtype(tokenizer)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "ids.bin"
        num_ids = 0
        with raw.open("wb") as f:
            for (_, _, hi), ids in zip(
                jobs, _encoded_chunks(tokenizer, jobs, num_workers), strict=True
            ):
                f.write(ids.astype(dtype).tobytes())
                num_ids += len(ids)
                if progress:
                    progress(hi, size)
        staged = Path(tmp) / out.name
        array = np.lib.format.open_memmap(staged, mode="w+", dtype=dtype, shape=(num_ids,))
        source = np.memmap(raw, dtype=dtype, mode="r", shape=(num_ids,)) if num_ids else array
        for start in range(0, num_ids, COPY_BLOCK):
            array[start : start + COPY_BLOCK] = source[start : start + COPY_BLOCK]
        array.flush()
        del array, source
        os.replace(staged, out)
    return num_ids


def _encoded_chunks(
    tokenizer: Tokenizer, jobs: list[tuple[str, int, int]], num_workers: int
) -> Iterator[np.ndarray]:
    if num_workers <= 1 or len(jobs) == 1:
        yield from map(partial(_encode_text_range, tokenizer), jobs)
        return
    if tokenizer.engine_in_use == "native":
        threads = _threads(tokenizer, num_workers)
        encode = partial(_encode_text_range, tokenizer)
        # at most 2 chunks ahead per thread: memory stays bounded for any file size
        ahead = 2 * num_workers
        pending = deque(threads.submit(encode, job) for job in jobs[:ahead])
        try:
            for job in jobs[ahead:]:
                yield pending.popleft().result()
                pending.append(threads.submit(encode, job))
            while pending:
                yield pending.popleft().result()
        finally:  # stopped early (an error): drop what has not started
            for future in pending:
                future.cancel()
        return
    with _pool(tokenizer, num_workers) as pool:
        yield from pool.imap(_encode_range, jobs)
