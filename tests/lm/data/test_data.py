"""lm.data on hand-made documents with known PII, junk lines and (near-)duplicates."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.data import (
    exact_line_dedup,
    gopher_quality_filter,
    html_to_text,
    identify_language,
    mask_emails,
    mask_ips,
    mask_phone_numbers,
    mask_pii,
    minhash_dedup,
    minhash_signatures,
)
from lm.data.dedup import choose_bands, normalize_for_dedup
from lm.data.pipeline import load_config, read_documents, run_pipeline
from lm.data.quality import QualityClassifier

PROSE = (
    "The committee met on Tuesday to review the proposal for the new library. "
    "After a long discussion about the budget, the members agreed that the building "
    "should have more room for children and a quiet space for students who need to work. "
    "The architect will present a revised plan next month, "
    "and the public is invited to comment on it before the final vote in the spring."
)


def test_html_to_text_strips_markup_and_scripts() -> None:
    html = "<body><script>alert(1)</script><h1>Title</h1><p>Hello <b>world</b>.</p></body>"
    text = html_to_text(html)
    assert "Hello world." in text and "Title" in text and "alert" not in text
    assert "caf\u00e9" in html_to_text("<p>caf\u00e9</p>".encode())


def test_identify_language() -> None:
    assert identify_language(PROSE)[0] == "en"
    language, score = identify_language(
        "Le comit\u00e9 s'est r\u00e9uni mardi pour examiner la proposition."
    )
    assert language == "fr" and 0.5 < score <= 1.0


@pytest.mark.parametrize(
    ("text", "masked", "count"),
    [
        ("write to jane.doe+news@mail.example.com today", "write to |||EMAIL_ADDRESS||| today", 1),
        ("a@b.co and c@d.org", "|||EMAIL_ADDRESS||| and |||EMAIL_ADDRESS|||", 2),
        ("no email here @ all", "no email here @ all", 0),
    ],
)
def test_mask_emails(text: str, masked: str, count: int) -> None:
    assert mask_emails(text) == (masked, count)


@pytest.mark.parametrize(
    "phone",
    [
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "+1 415 555 0100",
        "4155550100",
        "+44 20 7946 0958",
    ],
)
def test_mask_phone_numbers(phone: str) -> None:
    assert mask_phone_numbers(f"call {phone} now") == ("call |||PHONE_NUMBER||| now", 1)


def test_phone_mask_leaves_years_and_prices() -> None:
    text = "In 2023 it cost $1,299.99 and 12 people came."
    assert mask_phone_numbers(text) == (text, 0)


def test_mask_ips() -> None:
    assert mask_ips("hosts 10.0.0.1 and 192.168.1.254.") == (
        "hosts |||IP_ADDRESS||| and |||IP_ADDRESS|||.",
        2,
    )
    assert mask_ips("version 1.2.3.4.5 and 999.1.1.1")[1] == 0


def test_mask_pii_counts() -> None:
    _, counts = mask_pii("mail x@y.com, call 415-555-0100, ping 8.8.8.8")
    assert counts == {"emails": 1, "phone_numbers": 1, "ips": 1}


def test_gopher_filter() -> None:
    assert gopher_quality_filter(PROSE) == (True, [])
    keep, reasons = gopher_quality_filter("too short")
    assert not keep and reasons[0].startswith("num_words=2")
    bullets = "\n".join(f"- item number {i} in a long list of things" for i in range(20))
    assert any("bullet_line_share" in r for r in gopher_quality_filter(bullets)[1])
    ellipses = "\n".join(f"and then the story went on and on {i}..." for i in range(20))
    assert any("ellipsis_line_share" in r for r in gopher_quality_filter(ellipses)[1])
    symbols = " ".join(["#tag"] * 30 + ["word"] * 30)
    assert any("symbol_word_ratio" in r for r in gopher_quality_filter(symbols)[1])
    numbers = " ".join(["12345"] * 60)
    assert any("alphabetic_word_share" in r for r in gopher_quality_filter(numbers)[1])


def test_quality_classifier_learns_and_round_trips(tmp_path) -> None:
    rng = random.Random(0)
    good = [" ".join(rng.sample(PROSE.split(), 30)) + " " + PROSE for _ in range(30)]
    bad = [
        " ".join(rng.choice(["buy", "now", "cheap", "click", "here"]) for _ in range(60))
        for _ in range(30)
    ]
    clf = QualityClassifier(labels=["low", "high"], num_buckets=4096).fit(
        good + bad, ["high"] * 30 + ["low"] * 30
    )
    assert clf.predict(PROSE)[0] == "high"
    assert clf.predict("click here buy now cheap cheap click")[0] == "low"
    clf.save(tmp_path / "q.npz")
    again = QualityClassifier.load(tmp_path / "q.npz")
    assert again.predict_proba(PROSE) == pytest.approx(clf.predict_proba(PROSE))
    (tmp_path / "bad.npz").write_bytes(b"not a classifier")
    with pytest.raises(ValueError, match="bad.npz"):
        QualityClassifier.load(tmp_path / "bad.npz")


def test_exact_line_dedup_keeps_first_occurrence() -> None:
    docs = ["header\nalpha\nfooter", "header\nbeta\nfooter", "gamma"]
    out = list(exact_line_dedup(docs))
    assert out == [("header\nalpha\nfooter", 0), ("beta", 2), ("gamma", 0)]


def test_normalize_for_dedup() -> None:
    assert normalize_for_dedup("H\u00e9llo,  World!") == "hello world"


def test_minhash_estimates_jaccard() -> None:
    words = [f"w{i}" for i in range(200)]
    a = " ".join(words)
    b = " ".join(words[:150] + [f"x{i}" for i in range(50)])
    sig = minhash_signatures([a, b], num_perm=256, ngram=1)
    true_jaccard = 150 / 250
    assert abs(float(np.mean(sig[0] == sig[1])) - true_jaccard) < 0.08


def test_choose_bands_midpoint_near_threshold() -> None:
    bands, rows = choose_bands(128, 0.8)
    assert bands * rows <= 128
    assert abs((1 / bands) ** (1 / rows) - 0.8) < 0.1


def test_minhash_dedup_finds_planted_near_duplicates() -> None:
    rng = random.Random(1)
    vocab = [f"v{i}" for i in range(5000)]
    originals = [" ".join(rng.choice(vocab) for _ in range(300)) for _ in range(20)]
    docs = list(originals)
    for i in range(0, 20, 2):  # plant a near-copy (2% of words changed: 3-gram Jaccard ~0.89)
        words = originals[i].split()
        for j in rng.sample(range(len(words)), 6):
            words[j] = rng.choice(vocab)
        docs.append(" ".join(words))
    kept = minhash_dedup(docs, threshold=0.7, num_perm=128, ngram=3)
    assert kept == list(range(20))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["a b c d e f", "a b c d e g", "x y z w v u", "p q r s t u", "a b c d e f"]
        ),
        min_size=1,
        max_size=8,
    )
)
def test_dedup_never_removes_first_copy(docs: list[str]) -> None:
    kept = minhash_dedup(docs, threshold=0.9, num_perm=64, ngram=2)
    first_index = {}
    for i, d in enumerate(docs):
        first_index.setdefault(d, i)
    assert set(first_index.values()) <= set(kept)
    assert kept[0] == 0


def test_read_documents_streams_on_separator(tmp_path) -> None:
    path = tmp_path / "c.txt"
    path.write_text("one\n<|endoftext|>\ntwo\n<|endoftext|>\n\nthree", encoding="utf-8")
    assert list(read_documents(path)) == ["one", "two", "three"]


def test_pipeline_end_to_end(tmp_path) -> None:
    docs = [
        PROSE + " Contact jane@example.com or 415-555-0100.",
        PROSE + " Contact jane@example.com or 415-555-0100.",  # exact duplicate
        "Le comit\u00e9 s'est r\u00e9uni mardi pour examiner la proposition "
        "de la nouvelle biblioth\u00e8que. " * 5,
        "This is a very short note about the weather in the city.",
    ]
    (tmp_path / "in.txt").write_text("\n<|endoftext|>\n".join(docs), encoding="utf-8")
    (tmp_path / "cfg.yaml").write_text(
        "input: in.txt\noutput: out.txt\nnum_workers: 1\nstages:\n"
        "  - language: {keep: [en]}\n  - pii\n  - gopher\n  - minhash_dedup: {threshold: 0.8}\n",
        encoding="utf-8",
    )
    reports = run_pipeline(load_config(tmp_path / "cfg.yaml"))
    out = list(read_documents(tmp_path / "out.txt"))
    assert len(out) == 1 and "|||EMAIL_ADDRESS|||" in out[0] and "|||PHONE_NUMBER|||" in out[0]
    by_name = {r.name: r for r in reports}
    assert (
        by_name["language"].docs_out == 3 and by_name["language"].counts["dropped_language_fr"] == 1
    )
    assert by_name["pii"].counts["masked_emails"] == 2
    assert by_name["gopher"].docs_out == 2
    assert by_name["minhash_dedup"].counts["near_duplicates_removed"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("input: a\noutput: b\nstages: []\ncolour: red\n", "unknown key 'colour'"),
        ("input: a\nstages: []\n", "missing required key 'output'"),
        ("input: a\noutput: b\nstages: [shuffle]\n", "unknown stage 'shuffle'"),
    ],
)
def test_config_errors(tmp_path, body: str, message: str) -> None:
    (tmp_path / "cfg.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_config(tmp_path / "cfg.yaml")
