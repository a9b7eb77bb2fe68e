"""lm.data.pipeline and lm.data.streaming: bounded memory on 2 processes, config validation, CLI."""

from __future__ import annotations

from collections import Counter

import pytest

from lm.data import dedup, pipeline
from lm.data.pipeline import PipelineConfig

SEP = "<|endoftext|>"


class CountingReader:
    """Stand-in for read_documents that counts how many documents were pulled so far."""

    def __init__(self) -> None:
        self.produced = 0
        self.real = pipeline.read_documents

    def __call__(self, path, separator=SEP):
        for doc in self.real(path, separator):
            self.produced += 1
            yield doc


def _write_corpus(path, num_docs: int) -> None:
    docs = (f"document {i} says hello to line {i} of the corpus" for i in range(num_docs))
    path.write_text(f"\n{SEP}\n".join(docs), encoding="utf-8")


@pytest.mark.multiproc
def test_doc_stages_on_two_processes_read_ahead_a_bounded_amount(tmp_path, monkeypatch) -> None:
    num_docs = 40 * pipeline.CHUNK_DOCS
    _write_corpus(tmp_path / "in.txt", num_docs)
    reader = CountingReader()
    monkeypatch.setattr(pipeline, "read_documents", reader)
    cfg = PipelineConfig(str(tmp_path / "in.txt"), str(tmp_path / "out.txt"), [], num_workers=2)
    consumed, ahead = 0, []

    def progress(n: int) -> None:
        nonlocal consumed
        consumed += n
        ahead.append(reader.produced - consumed)

    reports = pipeline._run_doc_stages(
        cfg, [{"pii": {}}], tmp_path / "in.txt", tmp_path / "out.txt", progress
    )
    assert reports[0].docs_in == reports[0].docs_out == num_docs
    # Pool.imap's feeder thread reads the whole file while the spawned workers start up.
    assert max(ahead) <= (pipeline.MAX_CHUNKS_IN_FLIGHT + 1) * pipeline.CHUNK_DOCS


def test_exact_line_dedup_stage_streams_to_its_output(tmp_path, monkeypatch) -> None:
    num_docs = 1000
    _write_corpus(tmp_path / "in.txt", num_docs)
    reader = CountingReader()
    monkeypatch.setattr(pipeline, "read_documents", reader)
    produced_at_first_write = []
    real_write = pipeline._write_documents

    def write(docs, path, separator):
        def watch():
            for doc in docs:
                produced_at_first_write.append(reader.produced)
                yield doc

        return real_write(watch(), path, separator)

    monkeypatch.setattr(pipeline, "_write_documents", write)
    cfg = PipelineConfig(str(tmp_path / "in.txt"), str(tmp_path / "out.txt"), [], num_workers=1)
    report = pipeline._run_corpus_stage(
        cfg, "exact_line_dedup", {}, tmp_path / "in.txt", tmp_path / "out.txt"
    )
    assert report.docs_in == report.docs_out == num_docs
    assert produced_at_first_write[0] < num_docs  # not the whole corpus held in a list first


def test_minhash_signatures_consume_documents_chunk_by_chunk(monkeypatch) -> None:
    produced = 0

    def docs():
        nonlocal produced
        for i in range(50):
            produced += 1
            yield f"doc {i} has some words in it"

    seen: list[int] = []
    real = dedup._signature_chunk

    def chunk(args):
        seen.append(produced)
        return real(args)

    monkeypatch.setattr(dedup, "_signature_chunk", chunk)
    signatures = dedup.minhash_signatures(docs(), num_perm=16, ngram=2, chunk_size=10)
    assert signatures.shape == (50, 16)
    assert seen[0] <= 20  # hashing starts after at most two chunks (one peeked), not the corpus


def test_signature_of_a_long_document_uses_bounded_memory() -> None:
    import tracemalloc

    text = " ".join(f"w{i}" for i in range(40_000))  # 40k distinct 5-grams
    tracemalloc.start()
    try:
        dedup.minhash_signatures([text], num_perm=128, ngram=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One [num_perm, num_shingles] uint64 matrix would be 41 MB (and as much per temporary).
    assert peak < 16e6, f"peak {peak / 1e6:.1f} MB"


def test_doc_stage_counts_per_stage(tmp_path) -> None:
    counts: Counter[str] = Counter()
    out = pipeline._apply_doc_stage("pii", {}, "mail a@b.com or 10.0.0.1", counts, None)
    assert out == "mail |||EMAIL_ADDRESS||| or |||IP_ADDRESS|||"
    assert counts == Counter({"masked_emails": 1, "masked_ips": 1, "masked_phone_numbers": 0})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("input: a\noutput: b\nstages: [pii]\nnum_workers: two\n", "num_workers = 'two'"),
        ("input: a\noutput: b\nstages: [pii]\nnum_workers: 0\n", "num_workers = 0"),
        ("input: a\noutput: b\nstages: {pii: {}}\n", r"stages = \{'pii': \{\}\} \(expected list"),
        ("input: 3\noutput: b\nstages: []\n", "input = 3 \\(expected str"),
        ("input: a\noutput: b\nstages: [{language: {keep: en}}]\n", r"language\): keep = 'en'"),
        ("input: a\noutput: b\nstages: [{gopher: {max_words: 9}}]\n", "unknown key 'max_words'"),
        (
            "input: a\noutput: b\nstages: [{minhash_dedup: {treshold: 0.8}}]\n",
            r"stages\[0\] \(minhash_dedup\): unknown key 'treshold'",
        ),
        ("input: a\noutput: b\nstages: [{minhash_dedup: {num_perm: true}}]\n", "num_perm = True"),
        ("input: a\noutput: b\nstages: [{minhash_dedup: {threshold: 1.5}}]\n", "threshold = 1.5"),
        (
            "input: a\noutput: b\nstages: [{minhash_dedup: {threshold: 1}}]\n",
            r"threshold = 1 .*\(0, 1\)",
        ),
        ("input: a\noutput: b\nstages: [{pii: 3}]\n", "options = 3"),
        ("input: a\noutput: b\nstages: [classifier]\n", "missing required key 'model'"),
        ("input: a\noutput: b\nstages: [pii\n", "invalid YAML at line"),
    ],
)
def test_config_wrong_types_name_file_and_key(tmp_path, body: str, message: str) -> None:
    (tmp_path / "cfg.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        pipeline.load_config(tmp_path / "cfg.yaml")
    assert str(info.value).startswith(str(tmp_path / "cfg.yaml"))


def test_config_fills_defaults_and_resolves_paths(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LM_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "cfg.yaml").write_text(
        "input: data:x.txt\noutput: out/y.txt\n"
        "stages: [language, {classifier: {model: m.npz}}, minhash_dedup]\n",
        encoding="utf-8",
    )
    cfg = pipeline.load_config(tmp_path / "cfg.yaml")
    assert cfg.input == str(tmp_path / "data" / "x.txt")
    assert cfg.output == str(tmp_path / "out" / "y.txt")
    assert cfg.stages == [
        {"language": {"keep": ["en"], "min_score": 0.5}},
        {"classifier": {"model": str(tmp_path / "m.npz"), "label": "high", "min_prob": 0.5}},
        {"minhash_dedup": {"threshold": 0.8, "num_perm": 128, "ngram": 5, "seed": 0}},
    ]


def test_shipped_config_is_valid() -> None:
    from pathlib import Path

    cfg = pipeline.load_config(Path(__file__).parents[3] / "configs" / "data_pipeline.yaml")
    assert [next(iter(s)) for s in cfg.stages][-1] == "minhash_dedup"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "cannot read config"),
        ("input: a\noutput: b\nstages: [pii\n", "invalid YAML"),
        ("input: missing.txt\noutput: b\nstages: [pii]\n", "is not a file"),
        ("input: a\noutput: b\nstages: [{minhash_dedup: {ngram: 0}}]\n", "ngram = 0"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, body, message) -> None:
    from lm.data.__main__ import main

    if body is not None:
        (tmp_path / "cfg.yaml").write_text(body, encoding="utf-8")
    assert main(["pipeline", "--config", str(tmp_path / "cfg.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


@pytest.mark.parametrize("read_bytes", [1, 2, 3, 5, 13, 1 << 20])
def test_read_documents_separators_across_read_boundaries(
    tmp_path, monkeypatch, read_bytes
) -> None:
    monkeypatch.setattr(pipeline, "READ_BYTES", read_bytes)
    path = tmp_path / "c.txt"
    path.write_text(f"one\n{SEP}\ntwo<|end\n{SEP}{SEP}\n\nthree{SEP}", encoding="utf-8")
    assert list(pipeline.read_documents(path)) == ["one", "two<|end", "three"]
    path.write_text("a|b||c", encoding="utf-8")
    assert list(pipeline.read_documents(path, "|")) == ["a", "b", "c"]


def test_read_documents_is_linear_without_separators(tmp_path, monkeypatch) -> None:
    import time

    monkeypatch.setattr(pipeline, "READ_BYTES", 4096)
    path = tmp_path / "one_doc.txt"
    path.write_text("x" * 2_000_000, encoding="utf-8")  # a file with the wrong separator
    start = time.perf_counter()
    assert [len(d) for d in pipeline.read_documents(path)] == [2_000_000]
    # Re-splitting the whole buffer on every read took ~2 s here (quadratic); linear is ~10 ms.
    assert time.perf_counter() - start < 0.5
