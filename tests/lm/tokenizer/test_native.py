"""The C engine (native.py, bpe_native.c) gives exactly the Python engine's ids; fails clearly."""

from __future__ import annotations

import pickle
import random
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.datafiles import data_path
from lm.tokenizer import Tokenizer, native, train_bpe
from tests.lm.tokenizer.engines import require_native

EOT = "<|endoftext|>"
SPECIALS = [EOT, "<|a|>", "<|a|><|a|>"]


@pytest.fixture(scope="module")
def engines() -> tuple[Tokenizer, Tokenizer]:
    """GPT-2's files on the C engine and on the Python engine."""
    require_native()
    files = data_path("gpt2_vocab.json"), data_path("gpt2_merges.txt")
    return (
        Tokenizer.from_files(*files, SPECIALS, engine="native"),
        Tokenizer.from_files(*files, SPECIALS, engine="python"),
    )


@pytest.fixture(scope="module")
def small_engines() -> tuple[Tokenizer, Tokenizer]:
    """A 600-token vocabulary trained here (ids and merges unlike GPT-2's) on both engines."""
    require_native()
    vocab, merges = train_bpe(data_path("tinystories_sample.txt"), 600, [EOT])
    return (
        Tokenizer(vocab, merges, SPECIALS, engine="native"),
        Tokenizer(vocab, merges, SPECIALS, engine="python"),
    )


def test_native_is_in_use(engines: tuple[Tokenizer, Tokenizer]) -> None:
    c, py = engines
    assert (c.engine_in_use, py.engine_in_use) == ("native", "python")
    assert Tokenizer(c.vocab, c.merges).engine_in_use == "native"  # "auto" picks C


# any Unicode, plus runs from an alphabet where GPT-2's pattern has its corner cases (whitespace
# runs before words, contractions, digits, non-ASCII letters and spaces), plus special tokens
CORNERS = " \n\t\r\u00a0\u3000'sdmtlvreAZ19!.-é你🌍"
TEXT = st.lists(
    st.one_of(st.text(), st.text(alphabet=CORNERS), st.sampled_from(SPECIALS)), max_size=8
).map("".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_same_ids_as_python_on_any_unicode(engines: tuple[Tokenizer, Tokenizer], text: str) -> None:
    c, py = engines
    assert c.encode(text) == py.encode(text)
    assert c.encode_ordinary(text) == py.encode_ordinary(text)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_same_ids_as_python_with_another_vocabulary(
    small_engines: tuple[Tokenizer, Tokenizer], text: str
) -> None:
    c, py = small_engines
    assert c.encode(text) == py.encode(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, max_size=6))
def test_a_batch_in_one_call_equals_text_by_text(
    engines: tuple[Tokenizer, Tokenizer], texts: list[str]
) -> None:
    c, py = engines
    assert c._encode_many(texts) == [py.encode(t) for t in texts]


@pytest.mark.parametrize("group_chars", [8, native.GROUP_CHARS])
def test_special_tokens_never_span_two_texts_of_a_batch(
    engines: tuple[Tokenizer, Tokenizer], monkeypatch: pytest.MonkeyPatch, group_chars: int
) -> None:
    c, py = engines
    monkeypatch.setattr(native, "GROUP_CHARS", group_chars)  # 8: groups of a few texts
    texts = ["a<|endof", "text|>b", "<|a|>", "<|a|>", "", EOT, "x<|a|><|a|>y", "é", "<|a|>"]
    assert c._encode_many(texts) == [py.encode(t) for t in texts]
    assert c._encode_many(["<|endof", "text|>"]) == [py.encode("<|endof"), py.encode("text|>")]
    assert c._encode_many([]) == [] and c._encode_many([""]) == [[]]
    big = data_path("mix_5MB.txt").read_text(encoding="utf-8")[:300_000]
    texts = [big[k : k + 7_000] + EOT for k in range(0, len(big), 7_000)]
    assert c.encode_batch(texts, num_workers=2) == [py.encode(t) for t in texts]
    assert c.encode_batch(texts, num_workers=2) == [py.encode(t) for t in texts]  # warm threads


def test_code_points_classified_as_regex_does(engines: tuple[Tokenizer, Tokenizer]) -> None:
    """Code points (every 7th, surrogates excluded; all four UTF-8 lengths) between letters,
    digits and spaces: a wrong character class in the C table, or a wrong UTF-8 decoding, changes
    where pre-tokens end, so the ids differ."""
    c, py = engines
    chars = [chr(i) for i in range(0, 0x110000, 7) if not 0xD800 <= i < 0xE000]
    text = "".join(f"{ch}a{ch}1 {ch}{ch}'s\u3000{ch}" for ch in chars)
    assert c.encode_ordinary(text) == py.encode_ordinary(text)


def test_long_pretokens_use_the_heap_merge_and_agree(engines: tuple[Tokenizer, Tokenizer]) -> None:
    """Pre-tokens longer than HEAP_MERGE_MIN bytes are merged with a heap in C."""
    c, py = engines
    rng = random.Random(0)
    for alphabet in ["ab", "the", "aaab", "abcdefghijklmnopqrstuvwxyz", "0123456789", "!?.", "é你"]:
        for _ in range(8):
            word = "".join(rng.choice(alphabet) for _ in range(rng.randint(200, 1200)))
            for text in (word, " " + word, word + " " + word[::-1]):
                assert c.encode(text) == py.encode(text), (alphabet, len(text))


def test_huge_pretoken_is_fast_and_right(
    engines: tuple[Tokenizer, Tokenizer], tiktoken_gpt2
) -> None:
    c, _ = engines
    text = "a" * 300_000 + " " + "b" * 1000
    assert c.encode(text) == tiktoken_gpt2.encode_ordinary(text)


def test_output_in_many_small_calls(
    engines: tuple[Tokenizer, Tokenizer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text longer than the output buffer (and a pre-token longer than the whole buffer) is
    encoded over several C calls, resuming at pre-token boundaries."""
    c, py = engines
    monkeypatch.setattr(native, "MIN_OUT_IDS", 4)
    monkeypatch.setattr(native, "OUT_BYTES_PER_ID", 1000)
    fresh = Tokenizer(c.vocab, c.merges, SPECIALS, engine="native")
    text = "y" * 40 + EOT + data_path("ts_2MiB.txt").read_text(encoding="utf-8")[:20_000]
    text += "x" * 50 + " tail " + "é" * 30 + EOT + "  end\n" + EOT
    assert fresh.encode(text) == py.encode(text)
    assert fresh.encode_to_array(text).tolist() == py.encode(text)
    assert list(py.encode_to_array(text)) == py.encode(text)


def test_threads_have_their_own_engine(engines: tuple[Tokenizer, Tokenizer]) -> None:
    c, py = engines
    texts = data_path("mix_5MB.txt").read_text(encoding="utf-8")[:400_000].split("\n")
    expected = [py.encode(t) for t in texts]
    shared = Tokenizer(c.vocab, c.merges, SPECIALS, engine="native")
    results: list[list[list[int]]] = [[], []]

    def work(k: int) -> None:
        results[k] = [shared.encode(t) for t in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected, expected]


def test_pickle_keeps_the_engine_choice(engines: tuple[Tokenizer, Tokenizer]) -> None:
    c, py = engines
    assert pickle.loads(pickle.dumps(c)).engine == "native"
    assert pickle.loads(pickle.dumps(py)).engine_in_use == "python"


def test_bad_engine_name(monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = {i: bytes([i]) for i in range(256)}
    with pytest.raises(ValueError, match="engine 'fast' is not one of"):
        Tokenizer(vocab, [], engine="fast")
    monkeypatch.setenv("LM_TOKENIZER_ENGINE", "c")
    with pytest.raises(ValueError, match=r"engine 'c'.*LM_TOKENIZER_ENGINE"):
        Tokenizer(vocab, [])
    monkeypatch.setenv("LM_TOKENIZER_ENGINE", "python")
    assert Tokenizer(vocab, []).engine_in_use == "python"


def test_no_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a working compiler, "auto" falls back to Python and "native" says why."""
    monkeypatch.setattr(native, "_library", None)
    monkeypatch.setattr(native, "_failure", None)
    monkeypatch.setenv("LM_NATIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    vocab = {i: bytes([i]) for i in range(256)}
    auto = Tokenizer(vocab, [])
    assert auto.engine_in_use == "python"
    assert auto.encode("hi") == [104, 105]
    with pytest.raises(native.NativeUnavailable, match="no C compiler found"):
        Tokenizer(vocab, [], engine="native")


def test_compile_error_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text("this is not C\n")
    monkeypatch.setattr(native, "SOURCE", broken)
    require_native()  # a compiler exists
    with pytest.raises(native.NativeUnavailable, match=r"exited \d+"):
        native.build(tmp_path / "out" / "lib.so")
    assert not (tmp_path / "out" / "lib.so").exists()


def test_library_path_changes_with_the_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = native.library_path()
    changed = tmp_path / "bpe_native.c"
    changed.write_text(native.SOURCE.read_text() + "\n/* changed */\n")
    monkeypatch.setattr(native, "SOURCE", changed)
    assert native.library_path() != before
