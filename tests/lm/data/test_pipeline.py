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
    assert seen[0] <= 10  # the first chunk is hashed before the rest is read


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
