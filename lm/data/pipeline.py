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


# Options of each stage: name -> (accepted types, default); REQUIRED ones must be given.
REQUIRED = object()
STAGE_OPTIONS: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "extract_html": {"main_content": ((bool,), True)},
    "language": {"keep": ((list,), ["en"]), "min_score": ((int, float), 0.5)},
    "pii": {},
    "gopher": {},
    "classifier": {
        "model": ((str,), REQUIRED), "label": ((str,), "high"), "min_prob": ((int, float), 0.5)
    },
    "exact_line_dedup": {},
    "minhash_dedup": {
        "threshold": ((int, float), 0.8), "num_perm": ((int,), 128), "ngram": ((int,), 5),
        "seed": ((int,), 0),
    },
}  # fmt: skip
TOP_LEVEL: dict[str, tuple[tuple[type, ...], Any]] = {
    "input": ((str,), REQUIRED), "output": ((str,), REQUIRED), "stages": ((list,), REQUIRED),
    "separator": ((str,), DEFAULT_SEPARATOR), "num_workers": ((int,), 2),
}  # fmt: skip
DATA_PREFIX = "data:"  # `input: data:mix_5MB.txt` is found through lm.datafiles (LM_DATA_DIR)


def _check_options(
    where: str, raw: dict[str, Any], schema: dict[str, tuple[tuple[type, ...], Any]]
) -> dict[str, Any]:
    """Options with defaults filled in; unknown or missing keys and wrong types raise."""
    for key in raw:
        if key not in schema:
            raise ValueError(f"{where}: unknown key {key!r} (expected one of {sorted(schema)})")
    out = {}
    for key, (types, default) in schema.items():
        if key not in raw:
            if default is REQUIRED:
                raise ValueError(f"{where}: missing required key {key!r}")
            out[key] = default
            continue
        value = raw[key]
        # bool is an int subclass: `num_perm: true` must not pass as 1.
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            expected = " or ".join(t.__name__ for t in types)
            raise ValueError(f"{where}: {key} = {value!r} (expected {expected})")
        out[key] = value
    return out


def _defaults(name: str) -> dict[str, Any]:
    return {k: v for k, (_, v) in STAGE_OPTIONS[name].items() if v is not REQUIRED}


def _check_stage(where: str, name: str, options: dict[str, Any]) -> None:
    """Range checks the types cannot express."""
    if name == "language" and not all(isinstance(code, str) for code in options["keep"]):
        raise ValueError(f"{where}: keep = {options['keep']!r} (expected a list of language codes)")
    for key in ("min_score", "min_prob"):
        if key in options and not 0.0 <= options[key] <= 1.0:
            raise ValueError(f"{where}: {key} = {options[key]!r} (expected a number in [0, 1])")
    if "threshold" in options and not 0.0 < options["threshold"] < 1.0:
        value = options["threshold"]
        raise ValueError(f"{where}: threshold = {value!r} (expected a Jaccard in (0, 1))")
    for key in ("num_perm", "ngram"):
        if key in options and options[key] < 1:
            raise ValueError(f"{where}: {key} = {options[key]!r} (expected a positive integer)")


def _parse_stages(path: Path, stages: list[Any]) -> list[dict[str, dict[str, Any]]]:
    parsed = []
    for i, stage in enumerate(stages):
        if isinstance(stage, str):
            stage = {stage: {}}
        if not isinstance(stage, dict) or len(stage) != 1:
            raise ValueError(
                f"{path}: stages[{i}] = {stage!r} (expected a name or {{name: options}})"
            )
        ((name, options),) = stage.items()
        if name not in STAGE_OPTIONS:
            raise ValueError(
                f"{path}: stages[{i}] unknown stage {name!r} "
                f"(expected one of {list(STAGE_OPTIONS)})"
            )
        where = f"{path}: stages[{i}] ({name})"
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise ValueError(f"{where}: options = {options!r} (expected a mapping)")
        options = _check_options(where, options, STAGE_OPTIONS[name])
        _check_stage(where, name, options)
        if name == "classifier":
            options["model"] = str(path.parent / options["model"])
        parsed.append({name: options})
    return parsed


def _resolve_input(base: Path, value: str) -> str:
    if value.startswith(DATA_PREFIX):
        from lm.datafiles import data_dir

        return str(data_dir() / value.removeprefix(DATA_PREFIX))
    return str(base / value)


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a YAML pipeline config; every error is a ValueError naming file and key.

    Relative paths (input, output, a classifier's model) are relative to the config file.
    """
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ValueError(f"{path}: invalid YAML{at}: {problem}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    top = _check_options(str(path), raw, TOP_LEVEL)
    if top["num_workers"] < 1:
        raise ValueError(f"{path}: num_workers = {top['num_workers']!r} (expected >= 1)")
    if not top["separator"]:
        raise ValueError(f"{path}: separator = '' (expected a non-empty string)")
    return PipelineConfig(
        input=_resolve_input(path.parent, top["input"]), output=str(path.parent / top["output"]),
        stages=_parse_stages(path, top["stages"]), separator=top["separator"],
        num_workers=top["num_workers"],
    )  # fmt: skip


def read_documents(path: str | Path, separator: str = DEFAULT_SEPARATOR) -> Iterator[str]:
    """Stream documents from a file split on `separator` (memory: one document plus one read).

    Subtle: only the newly read text (plus a separator's length of overlap) is searched, and a
    long document's pieces are joined once, so a file missing its separators reads in linear time.
    """
    pieces: list[str] = []  # the current document so far
    carry = ""  # text that may hold the start of a separator split across two reads
    keep = len(separator) - 1
    with open(path, encoding="utf-8") as f:
        while chunk := f.read(READ_BYTES):
            *docs, rest = (carry + chunk).split(separator)
            if docs:
                docs[0] = "".join(pieces) + docs[0]
                pieces = []
                yield from (doc.strip("\n") for doc in docs if doc.strip())
            cut = max(0, len(rest) - keep)  # subtle: never a negative index on short reads
            pieces.append(rest[:cut])
            carry = rest[cut:]
    last = "".join(pieces) + carry
    if last.strip():
        yield last.strip("\n")


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
        return html_to_text(doc, main_content=options["main_content"])
    if name == "language":
        language, score = identify_language(doc)
        if language not in options["keep"] or score < options["min_score"]:
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
        assert model is not None, "run_pipeline loads the classifier"
        probs = model.predict_proba(doc)
        if probs[options["label"]] < options["min_prob"]:
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


def _check_classifiers(stages: list[dict[str, dict[str, Any]]]) -> None:
    """Fail before any work if a classifier stage's model or label is wrong."""
    for stage in stages:
        ((name, options),) = stage.items()
        if name == "classifier":
            labels = QualityClassifier.load(options["model"]).labels
            if options["label"] not in labels:
                raise ValueError(
                    f"classifier stage: label {options['label']!r} not in the model's {labels!r}"
                )


def run_pipeline(
    cfg: PipelineConfig, progress: Callable[[int], None] = lambda n: None
) -> list[StageReport]:
    """Run all stages; writes cfg.output atomically and returns one report per stage.

    `cfg` is validated by `load_config`; stage options it lacks take their defaults.
    """
    if not Path(cfg.input).is_file():
        raise ValueError(f"pipeline input {cfg.input!r} is not a file")
    cfg.stages = [
        {name: {**_defaults(name), **options}}
        for stage in cfg.stages
        for name, options in stage.items()
    ]
    _check_classifiers(cfg.stages)
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
