"""The data pipeline: documents stream through extract, language, PII, quality, dedup.

Configured by YAML (`python -m lm.data pipeline --config configs/data_pipeline.yaml`). Per-document
stages run on `num_workers` processes over chunks; corpus-level dedup stages stream over a
temporary file between passes, so memory stays bounded by a chunk plus the dedup indexes.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from lm.data.dedup import exact_line_dedup, minhash_dedup
from lm.data.extract import html_to_text
from lm.data.language import identify_language
from lm.data.pii import mask_pii
from lm.data.quality import QualityClassifier, gopher_quality_filter
from lm.data.streaming import bounded_imap, chunked

DEFAULT_SEPARATOR = "<|endoftext|>"
DOC_STAGES = ("extract_html", "language", "pii", "gopher", "classifier")
CORPUS_STAGES = ("exact_line_dedup", "minhash_dedup")
CHUNK_DOCS = 200
MAX_CHUNKS_IN_FLIGHT = 4  # chunks read ahead of the writer: bounds memory with 2 workers busy
READ_BYTES = 1 << 20


@dataclass
class PipelineConfig:
    """What to read, where to write, and the stages to run in order (each {name: options})."""

    input: str
    output: str
    stages: list[dict[str, dict[str, Any]]]
    separator: str = DEFAULT_SEPARATOR
    num_workers: int = 2


@dataclass
class StageReport:
    """What one stage did."""

    name: str
    docs_in: int = 0
    docs_out: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a YAML pipeline config; unknown keys/stages are errors naming the file."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    known = {"input", "output", "stages", "separator", "num_workers"}
    for key in raw:
        if key not in known:
            raise ValueError(f"{path}: unknown key {key!r} (expected one of {sorted(known)})")
    for key in ("input", "output", "stages"):
        if key not in raw:
            raise ValueError(f"{path}: missing required key {key!r}")
    stages = []
    for i, stage in enumerate(raw["stages"]):
        if isinstance(stage, str):
            stage = {stage: {}}
        if not isinstance(stage, dict) or len(stage) != 1:
            raise ValueError(
                f"{path}: stages[{i}] = {stage!r} (expected a name or {{name: options}})"
            )
        ((name, options),) = stage.items()
        if name not in DOC_STAGES + CORPUS_STAGES:
            raise ValueError(
                f"{path}: stages[{i}] unknown stage {name!r} "
                f"(expected one of {DOC_STAGES + CORPUS_STAGES})"
            )
        stages.append({name: options or {}})
    base = Path(path).parent
    return PipelineConfig(
        input=str(base / raw["input"]), output=str(base / raw["output"]), stages=stages,
        separator=raw.get("separator", DEFAULT_SEPARATOR),
        num_workers=int(raw.get("num_workers", 2)),
    )  # fmt: skip


def read_documents(path: str | Path, separator: str = DEFAULT_SEPARATOR) -> Iterator[str]:
    """Stream documents from a file split on `separator` (constant memory)."""
    buffer = ""
    with open(path, encoding="utf-8") as f:
        while chunk := f.read(READ_BYTES):
            buffer += chunk
            *docs, buffer = buffer.split(separator)
            for doc in docs:
                if doc.strip():
                    yield doc.strip("\n")
    if buffer.strip():
        yield buffer.strip("\n")


def _write_documents(docs: Iterable[str], path: Path, separator: str) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(doc + "\n" + separator + "\n")
            count += 1
    return count


def _apply_doc_stage(
    name: str,
    options: dict[str, Any],
    doc: str,
    counts: Counter[str],
    model: QualityClassifier | None,
) -> str | None:
    """Run one per-document stage; returns the (possibly changed) doc or None to drop it."""
    if name == "extract_html":
        return html_to_text(doc, main_content=bool(options.get("main_content", True)))
    if name == "language":
        language, score = identify_language(doc)
        keep = options.get("keep", ["en"])
        if language not in keep or score < float(options.get("min_score", 0.5)):
            counts[f"dropped_language_{language}"] += 1
            return None
        return doc
    if name == "pii":
        doc, found = mask_pii(doc)
        counts.update({f"masked_{k}": v for k, v in found.items()})
        return doc
    if name == "gopher":
        keep, reasons = gopher_quality_filter(doc)
        if not keep:
            counts.update("failed_" + r.split("=")[0] for r in reasons)
            return None
        return doc
    if name == "classifier":
        assert model is not None
        probs = model.predict_proba(doc)
        if probs[options.get("label", "high")] < float(options.get("min_prob", 0.5)):
            counts["dropped_low_quality"] += 1
            return None
        return doc
    raise ValueError(f"unknown document stage {name!r}")


def _doc_chunk(
    args: tuple[list[str], list[dict[str, dict[str, Any]]]],
) -> tuple[list[str], list[tuple[int, int, Counter[str]]]]:
    """Worker: run the per-document stages on a chunk; returns survivors and per-stage tallies."""
    docs, stages = args
    tallies = []
    for stage in stages:
        ((name, options),) = stage.items()
        model = QualityClassifier.load(options["model"]) if name == "classifier" else None
        counts: Counter[str] = Counter()
        survivors = [
            d
            for doc in docs
            if (d := _apply_doc_stage(name, options, doc, counts, model)) is not None
        ]
        tallies.append((len(docs), len(survivors), counts))
        docs = survivors
    return docs, tallies


def _run_doc_stages(
    cfg: PipelineConfig,
    stages: list[dict[str, dict[str, Any]]],
    src: Path,
    dst: Path,
    progress: Callable[[int], None],
) -> list[StageReport]:
    reports = [StageReport(next(iter(s))) for s in stages]
    jobs = ((chunk, stages) for chunk in chunked(read_documents(src, cfg.separator), CHUNK_DOCS))
    with (
        get_context("spawn").Pool(cfg.num_workers) as pool,
        open(dst, "w", encoding="utf-8") as out,
    ):
        for survivors, tallies in bounded_imap(pool, _doc_chunk, jobs, MAX_CHUNKS_IN_FLIGHT):
            for report, (n_in, n_out, counts) in zip(reports, tallies, strict=True):
                report.docs_in += n_in
                report.docs_out += n_out
                report.counts.update(counts)
            for doc in survivors:
                out.write(doc + "\n" + cfg.separator + "\n")
            progress(tallies[0][0] if tallies else 0)
    return reports


def _run_corpus_stage(
    cfg: PipelineConfig, name: str, options: dict[str, Any], src: Path, dst: Path
) -> StageReport:
    report = StageReport(name)
    if name == "exact_line_dedup":

        def survivors() -> Iterator[str]:
            for doc, removed in exact_line_dedup(read_documents(src, cfg.separator)):
                report.docs_in += 1
                report.counts["removed_lines"] += removed
                if doc.strip():
                    yield doc
                else:
                    report.counts["emptied_documents"] += 1

        report.docs_out = _write_documents(survivors(), dst, cfg.separator)
        return report
    keep = set(
        minhash_dedup(read_documents(src, cfg.separator), num_workers=cfg.num_workers, **options)
    )
    kept = (d for i, d in enumerate(read_documents(src, cfg.separator)) if i in keep)
    report.docs_out = _write_documents(kept, dst, cfg.separator)
    report.docs_in = sum(1 for _ in read_documents(src, cfg.separator))
    report.counts["near_duplicates_removed"] = report.docs_in - report.docs_out
    return report


def run_pipeline(
    cfg: PipelineConfig, progress: Callable[[int], None] = lambda n: None
) -> list[StageReport]:
    """Run all stages; writes cfg.output atomically and returns one report per stage."""
    if not Path(cfg.input).is_file():
        raise ValueError(f"pipeline input {cfg.input!r} is not a file")
    out = Path(cfg.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    reports: list[StageReport] = []
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        current, step = Path(cfg.input), 0
        i = 0
        while i < len(cfg.stages):
            group = []
            while i < len(cfg.stages) and next(iter(cfg.stages[i])) in DOC_STAGES:
                group.append(cfg.stages[i])
                i += 1
            step += 1
            nxt = Path(tmp) / f"stage{step}.txt"
            if group:
                reports += _run_doc_stages(cfg, group, current, nxt, progress)
            else:
                ((name, options),) = cfg.stages[i].items()
                reports.append(_run_corpus_stage(cfg, name, options, current, nxt))
                i += 1
            current = nxt
        if current == Path(cfg.input):
            _write_documents(
                read_documents(current, cfg.separator), Path(tmp) / "copy.txt", cfg.separator
            )
            current = Path(tmp) / "copy.txt"
        os.replace(current, out)
    return reports
