"""Benchmark lm.tokenizer against Hugging Face `tokenizers` (training) and `tiktoken` (codec).

    PYTHONPATH=. python benchmarks/tokenizer.py [--quick] [--codec-only]

Each trainer runs in its own child process so that its wall time and peak RSS are its own; the HF
peer gets 2 threads (RAYON_NUM_THREADS=2), ours 2 pre-tokenization processes. Peak RSS is sampled
over the whole process tree as summed PSS (see RSS_SAMPLER). Encoding uses
GPT-2's files for both sides; tiktoken's peer is built offline from them. Ratios: time ours/peer for
training (lower is better), throughput ours/peer for encoding and decoding (higher is better);
encode/decode rows are the best of 3 runs, each cold row with a freshly loaded tokenizer. Both
encoding engines are measured: the native one (C, threads share one process) and the Python one
(the readable reference; processes).
The machine is shared: numbers move by tens of percent from run to run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lm.datafiles import data_path  # noqa: E402

EOT = "<|endoftext|>"

# Peak resident memory of the whole process tree (trainer + its worker processes), sampled every
# 5 ms, as the sum of each process's PSS (proportional set size: a page shared by n processes
# counts 1/n in each, so pages a forked worker shares with its parent are not counted twice; for
# HF, one process with threads, PSS is its RSS). Same sampler for both trainers.
RSS_SAMPLER = """
import os, threading, time

def _tree_rss_kb(pid):
    total, todo = 0, [str(pid)]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += f.read().split()
        except (OSError, StopIteration):
            pass
    return total

PEAK = [0]
def _sample():
    while True:
        PEAK[0] = max(PEAK[0], _tree_rss_kb(os.getpid()))
        time.sleep(0.005)

threading.Thread(target=_sample, daemon=True).start()

def peak_rss_kb():
    return PEAK[0]
"""

OURS_TRAIN = (
    RSS_SAMPLER
    + """
import json, sys, time
from lm.tokenizer import train_bpe
start = time.perf_counter()
vocab, merges = train_bpe(sys.argv[1], int(sys.argv[2]), ["<|endoftext|>"], num_workers=2)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_kb": peak_rss_kb(), "vocab": len(vocab)}))
"""
)

HF_TRAIN = (
    RSS_SAMPLER
    + """
import json, sys, time
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
start = time.perf_counter()
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
trainer = trainers.BpeTrainer(
    vocab_size=int(sys.argv[2]), special_tokens=["<|endoftext|>"], show_progress=False,
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
)
tokenizer.train([sys.argv[1]], trainer)
seconds = time.perf_counter() - start
size = tokenizer.get_vocab_size()
print(json.dumps({"seconds": seconds, "rss_kb": peak_rss_kb(), "vocab": size}))
"""
)


def _child(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAYON_NUM_THREADS": "2",
           "RAYON_RS_NUM_CPUS": "2", "TOKENIZERS_PARALLELISM": "true"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_training(corpora: dict[str, Path], runs: list[tuple[str, int]]) -> None:
    print("\n## Training byte-level BPE (ours: 2 processes; HF tokenizers: 2 threads)")
    print(f"{'corpus':<14}{'vocab':>7}{'ours s':>9}{'HF s':>8}{'time x':>8}"
          f"{'ours MB':>9}{'HF MB':>8}{'mem x':>7}")  # fmt: skip
    for name, vocab_size in runs:
        path = str(corpora[name])
        ours = _child(OURS_TRAIN, path, str(vocab_size))
        peer = _child(HF_TRAIN, path, str(vocab_size))
        print(
            f"{name:<14}{vocab_size:>7}{ours['seconds']:>9.2f}{peer['seconds']:>8.2f}"
            f"{ours['seconds'] / peer['seconds']:>8.2f}{ours['rss_kb'] / 1024:>9.0f}"
            f"{peer['rss_kb'] / 1024:>8.0f}{ours['rss_kb'] / peer['rss_kb']:>7.2f}"
        )


REPEATS = 3


def _timed(fn, setup=lambda: None):  # noqa: ANN001, ANN202
    """Best wall time of REPEATS calls fn(setup()), setup untimed (the best run is the one the
    shared machine disturbed least)."""
    best = float("inf")
    for _ in range(REPEATS):
        arg = setup()
        start = time.perf_counter()
        result = fn(arg)
        best = min(best, time.perf_counter() - start)
    return result, best


def bench_codec(path: Path, tmp: Path) -> None:
    import tiktoken

    from lm.tokenizer import GPT2_PATTERN, Tokenizer, native
    from lm.tokenizer.parallel_encode import encode_file

    def loader(engine: str) -> Callable[[], Tokenizer]:
        def fresh() -> Tokenizer:
            return Tokenizer.from_files(
                data_path("gpt2_vocab.json"), data_path("gpt2_merges.txt"), [EOT], engine=engine
            )

        return fresh

    ours = loader("python")()
    ranks = {token: i for i, token in ours.vocab.items() if i != 50256}
    peer = tiktoken.Encoding(
        name="gpt2_local", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={EOT: 50256}
    )
    text = path.read_text(encoding="utf-8")
    megabytes = len(text.encode("utf-8")) / 1e6
    docs = text.split(EOT)
    docs = [d + EOT for d in docs[:-1]] + docs[-1:]
    batches = [EOT.join(docs[i : i + 200]) for i in range(0, len(docs), 200)]
    print(f"\n## Encoding {path.name} ({megabytes:.1f} MB) with GPT-2's vocabulary; MB/s")
    print(f"{'what':<56}{'ours':>9}{'tiktoken':>10}{'ratio':>8}")

    def row(what: str, ours_s: float, peer_s: float) -> None:
        print(f"{what:<56}{megabytes / ours_s:>9.2f}{megabytes / peer_s:>10.2f}"
              f"{peer_s / ours_s:>8.2f}")  # fmt: skip

    ids_peer, peer_s = _timed(lambda _: peer.encode(text, allowed_special="all"))
    out_p, peer2_s = _timed(
        lambda _: peer.encode_batch(batches, num_threads=2, allowed_special="all")
    )
    lines = text.split("\n")  # many short texts: the per-text overhead shows
    lines_p, lines_peer_s = _timed(
        lambda _: peer.encode_batch(lines, num_threads=2, allowed_special="all")
    )
    engines = ["native", "python"] if native.available() else ["python"]
    if engines == ["python"]:
        print("(no native engine here: `python -m lm.tokenizer native` says why)")
    for engine in engines:
        fresh = loader(engine)
        workers = "2 threads" if engine == "native" else "2 processes"
        ids_ours, ours_s = _timed(lambda tok: tok.encode(text), fresh)
        assert ids_ours == ids_peer, f"{engine}: ids differ from tiktoken"
        row(f"{engine}: encode, 1 thread, cold cache", ours_s, peer_s)
        warm = fresh()
        warm.encode(text)  # fill the caches
        _, warm_s = _timed(lambda tok: tok.encode(text), lambda: warm)  # noqa: B023
        row(f"{engine}: encode, 1 thread, warm cache", warm_s, peer_s)
        out_b, ours2_s = _timed(lambda tok: tok.encode_batch(batches, num_workers=2), fresh)
        assert out_b == out_p, f"{engine}: encode_batch differs from tiktoken"
        row(f"{engine}: encode_batch, {workers} (tiktoken 2 threads)", ours2_s, peer2_s)
        lines_o, lines_s = _timed(lambda tok: tok.encode_batch(lines, num_workers=2), fresh)
        assert lines_o == lines_p, f"{engine}: encode_batch of lines differs from tiktoken"
        row(f"{engine}: encode_batch, {len(lines):,} lines, {workers}", lines_s, lines_peer_s)
        _, file_s = _timed(
            lambda tok: encode_file(tok, path, tmp / "ids.npy", num_workers=2), fresh
        )
        row(f"{engine}: encode_file -> .npy, {workers} (vs batch)", file_s, peer2_s)
    text_o, dec_s = _timed(lambda _: ours.decode(ids_peer))
    text_p, dec_peer_s = _timed(lambda _: peer.decode(ids_peer))
    assert text_o == text_p == text
    row("decode", dec_s, dec_peer_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpora only")
    parser.add_argument("--codec-only", action="store_true", help="skip training")
    args = parser.parse_args()
    import tokenizers

    print(f"python {sys.version.split()[0]}, tokenizers {tokenizers.__version__}, "
          f"{os.cpu_count()} CPUs (shared machine: expect noise)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        corpora = {"ts_2MiB": data_path("ts_2MiB.txt"), "mix_5MB": data_path("mix_5MB.txt")}
        if not args.quick:
            corpora["mix_20MB"] = tmp / "mix_20MB.txt"
            with (
                gzip.open(data_path("mix_20MB.txt.gz"), "rb") as src,
                corpora["mix_20MB"].open("wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
        runs = [("ts_2MiB", 10_000), ("mix_5MB", 10_000)]
        if not args.quick:
            runs += [("mix_20MB", 10_000), ("mix_20MB", 32_000)]
        if not args.codec_only:
            bench_training(corpora, runs)
        bench_codec(corpora["mix_5MB" if args.quick else "mix_20MB"], tmp)


if __name__ == "__main__":
    main()
