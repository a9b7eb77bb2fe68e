"""Lecture 08: Data

Where training data comes from and how raw web-like text becomes training tokens: extraction,
language identification, PII masking, quality filtering and deduplication, run live with lm.data.
"""

import os
import random
from collections import Counter
from pathlib import Path

import numpy as np

from execlecture import link, text
from lm.data import (
    exact_line_dedup,
    gopher_quality_filter,
    html_to_text,
    identify_language,
    mask_pii,
    minhash_dedup,
    minhash_signatures,
    quality,
)
from lm.data.dedup import choose_bands, normalize_for_dedup
from lm.data.pipeline import read_documents
from lm.data.quality_data import degrade, train_default_classifier
from lm.datafiles import data_path

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
NUM_DOCS = 60 if IS_SMOKE else 400
HERE = Path(__file__).parent

# A made-up page with everything real pages have: navigation, an ad, contact details, content.
SAMPLE_PAGE = """<!doctype html><html><head><title>Gardening tips</title>
<script>trackVisitor();</script></head><body>
<nav><a href="/">Home</a> | <a href="/shop">Shop</a> | <a href="/login">Login</a></nav>
<div class="ad">BUY NOW!!! 50% OFF seeds!!! Click here</div>
<article><h1>How to grow tomatoes on a balcony</h1>
<p>Tomatoes need at least six hours of direct sunlight a day, so choose the sunniest corner of
your balcony. Use a pot of at least twenty litres and fill it with a mix of compost and soil.</p>
<p>Water deeply twice a week rather than a little every day: the roots grow down and the plant
copes better with hot afternoons. Pinch out the side shoots as they appear.</p></article>
<footer>Questions? Write to maria.gardener@example.org or call (415) 555-0142.
Server 192.168.10.24 - All rights reserved</footer></body></html>"""


def main():
    where_data_comes_from()  # the web, books, code, and what "data" means for an LM
    looking_at_raw_text()  # extraction: HTML -> text
    language_identification()  # keep the languages you want
    pii_masking()  # remove emails, phone numbers, IP addresses
    quality_filtering()  # rules (Gopher) and a learned classifier
    deduplication()  # exact lines, then MinHash + LSH for near duplicates
    data_mixing()  # how much of each source, and how many epochs
    summary()  # what to remember


def where_data_comes_from():
    text("# Data")
    text(
        "Architecture and optimisation get the papers; **data** decides what the model knows. "
        "Frontier labs say almost nothing about their data, and it is where most of the work goes."
    )
    text("Sources of pre-training text:")
    text(
        "- **The web**: Common Crawl has crawled billions of pages monthly since 2008 "
        "(WARC = raw HTTP responses, WET = extracted text).\n"
        "- **Books and papers**: Project Gutenberg (public domain), arXiv, PubMed.\n"
        "- **Code**: GitHub (The Stack, with licences filtered), Stack Exchange.\n"
        "- **Curated**: Wikipedia, textbooks, math datasets, synthetic data written by models."
    )
    link(url="https://arxiv.org/abs/2101.00027", title="The Pile", authors=["Gao+"], date="2020")
    link(url="https://arxiv.org/abs/2402.00159", title="Dolma", authors=["Soldaini+"], date="2024")
    link(
        url="https://arxiv.org/abs/2406.17557",
        title="FineWeb",
        authors=["Penedo+"],
        date="2024",
    )
    text(
        "Each of these corpora is a **pipeline**: the same stages we build today, tuned at scale. "
        "Our library `lm.data` has one function per stage, all streaming and multi-process."
    )


def looking_at_raw_text():
    text("## Looking at raw text")
    text("A web page is mostly not prose. Here is a small one (made up, but typical):")
    text(f"```html\n{SAMPLE_PAGE}\n```")
    num_html_bytes = len(SAMPLE_PAGE.encode())  # @inspect num_html_bytes
    plain = html_to_text(SAMPLE_PAGE)  # @inspect plain
    main_only = html_to_text(SAMPLE_PAGE, main_content=True)  # @inspect main_only
    kept_share = len(main_only.encode()) / num_html_bytes  # @inspect kept_share
    text(
        f"Extraction with Resiliparse keeps {len(plain.encode())} of {num_html_bytes} bytes; "
        f"main-content mode drops navigation and footer too, keeping {kept_share:.0%}."
    )
    link(url="https://resiliparse.chatnoir.eu/", title="Resiliparse (Bevendorff+ 2018)")
    text(
        "Extraction quality matters: FineWeb found that re-extracting Common Crawl's WARC files "
        "(trafilatura) instead of using the provided WET text improved downstream accuracy."
    )


def language_identification():
    text("## Language identification")
    samples = [
        "The weather was lovely, so we walked along the river after lunch.",
        "Il faisait beau, alors nous avons marché le long de la rivière après le déjeuner.",
        "Das Wetter war schön, also sind wir nach dem Mittagessen am Fluss spazieren gegangen.",
        "def add(a, b):\n    return a + b",
    ]
    predictions = [identify_language(s) for s in samples]  # @inspect predictions
    text(
        "A language identifier (here langid.py's model, shipped in `py3langid`) gives a language "
        "and a probability; pipelines keep documents in the wanted languages above a threshold."
    )
    code_language, code_score = predictions[-1]
    text(
        f"Note the last sample: code is not a language, and it came out as `{code_language}` "
        f"with probability {code_score:.2f}. Filters are tools with failure modes, not oracles."
    )
    docs = list(_documents(NUM_DOCS))
    languages = Counter(identify_language(d)[0] for d in docs)  # @inspect languages @stepover
    text(f"On {len(docs)} documents of our mixed corpus: {dict(languages.most_common(5))}.")


def pii_masking():
    text("## Personally identifiable information")
    page_text = html_to_text(SAMPLE_PAGE)
    masked, counts = mask_pii(page_text)  # @inspect counts
    footer = masked[masked.index("Questions") :]  # @inspect footer
    text(
        "We replace emails, phone numbers and IP addresses with placeholders so the model cannot "
        "memorise them, and count what we masked: a pipeline should always say what it removed."
    )
    text(
        "Regexes miss things (names, addresses) and hit innocent strings (version numbers that "
        "look like IPs): precision and recall must be checked on real samples."
    )


def quality_filtering():
    text("## Quality filtering")
    text(
        f"**Rules** (Gopher, Rae+ 2021): keep documents of {quality.MIN_WORDS} to "
        f"{quality.MAX_WORDS:,} words with mean word length {quality.MIN_MEAN_WORD_LEN:g} to "
        f"{quality.MAX_MEAN_WORD_LEN:g}, at most {quality.MAX_SYMBOL_WORD_RATIO:.0%} symbols per "
        f"word, at most {quality.MAX_ELLIPSIS_LINE_SHARE:.0%} of lines ending in an ellipsis and "
        f"{quality.MAX_BULLET_LINE_SHARE:.0%} starting with a bullet, at least "
        f"{quality.MIN_ALPHA_WORD_SHARE:.0%} of words with a letter, and at least "
        f"{quality.MIN_STOP_WORDS} of the stop words {', '.join(sorted(quality.STOP_WORDS))}."
    )
    link(url="https://arxiv.org/abs/2112.11446", title="Gopher", authors=["Rae+"], date="2021")
    docs = list(_documents(NUM_DOCS))
    verdicts = [gopher_quality_filter(d) for d in docs]  # @stepover
    num_kept = sum(keep for keep, _ in verdicts)  # @inspect num_kept
    reasons = Counter(
        r.split("=")[0] for _, rs in verdicts for r in rs
    )  # @inspect reasons @stepover
    text(
        f"On {len(docs)} documents the rules keep {num_kept}. The main reason for dropping: "
        f"`{reasons.most_common(1)[0][0] if reasons else 'none'}`. Rules written for web "
        "pages misjudge other genres: short exam questions look like fragments, and math "
        "worked solutions have few words made of letters."
    )
    text(
        "**A learned classifier** (GPT-3, LLaMA, DCLM): train a fast bag-of-n-grams model "
        "(fastText style) to tell reference-quality text from random web text, keep what scores high."
    )
    link(url="https://arxiv.org/abs/1607.01759", title="fastText", authors=["Joulin+"], date="2016")
    link(url="https://arxiv.org/abs/2406.11794", title="DCLM", authors=["Li+"], date="2024")
    classifier, accuracy = train_default_classifier(
        max_docs=150 if IS_SMOKE else 1000
    )  # @inspect accuracy
    rng = random.Random(0)
    good = docs[0]
    junk = degrade(good, rng)
    scores = {  # @inspect scores
        "original": classifier.predict_proba(good)["high"],
        "degraded": classifier.predict_proba(junk)["high"],
    }
    text(
        f"Our classifier learns to separate real documents from degraded copies (word salad, "
        f"boilerplate, spam, symbol noise) with {accuracy:.1%} accuracy on held-out documents "
        "(a document and its degraded copy are always on the same side of the split). That "
        "measures separation from *our* degradations, not from real web junk. Scores for one "
        f"document and its degraded copy: {scores['original']:.2f} vs {scores['degraded']:.2f}."
    )
    text(
        "The catch: a classifier keeps text that looks like its positives. Choosing the "
        "positives *is* choosing what the model will be good at."
    )


def deduplication():
    text("## Deduplication")
    text(
        "The web repeats itself: boilerplate lines, mirrored pages, templated text. Duplicates "
        "waste compute and make models memorise. Two tools: **exact** matching by hashing, and "
        "**near-duplicate** detection by MinHash + locality-sensitive hashing."
    )
    link(
        url="https://arxiv.org/abs/2107.06499",
        title="Deduplicating training data",
        authors=["Lee+"],
        date="2021",
    )
    pages = [
        "Welcome to our shop!\nTomatoes need sun and water.\nAll rights reserved.",
        "Welcome to our shop!\nBasil likes warm windowsills.\nAll rights reserved.",
    ]
    deduped = list(exact_line_dedup(pages))  # @inspect deduped
    text("Exact line dedup removes every line already seen (here, the repeated boilerplate).")
    minhash_worked_example()
    docs = list(_documents(NUM_DOCS))
    rng = random.Random(0)
    changed_share = 0.02
    planted = _plant_near_copies(docs, len(docs) // 10, changed_share, rng)
    corpus = docs + planted
    kept = minhash_dedup(corpus, threshold=0.8)  # @stepover
    num_removed = len(corpus) - len(kept)  # @inspect num_removed
    caught = len(set(range(len(docs), len(corpus))) - set(kept))  # @inspect caught
    text(
        f"We planted {len(planted)} near-copies ({changed_share:.0%} of words changed) among {len(docs)} "
        f"documents; MinHash dedup removed {num_removed} documents, {caught} of them planted."
    )


def minhash_worked_example():
    text("### MinHash, worked")
    a = "the cat sat on the mat and looked at the dog"
    b = "the cat sat on the mat and looked at a dog"
    shingles_a = _shingles(a, 3)  # @inspect shingles_a
    shingles_b = _shingles(b, 3)  # @inspect shingles_b
    jaccard = len(shingles_a & shingles_b) / len(shingles_a | shingles_b)  # @inspect jaccard
    text(
        "Jaccard similarity $J(A, B) = |A \\cap B| / |A \\cup B|$ of the sets of word 3-grams. "
        "For a random permutation $\\pi$ of all shingles, "
        "$P[\\min \\pi(A) = \\min \\pi(B)] = J(A, B)$: the first shingle of $A \\cup B$ under "
        "$\\pi$ is equally likely to be any of them, and the minima agree exactly when it is in both."
    )
    signatures = minhash_signatures([a, b], num_perm=256, ngram=3)
    estimate = float(np.mean(signatures[0] == signatures[1]))  # @inspect estimate
    text(
        f"With {signatures.shape[1]} hash functions the estimate is {estimate:.3f} against the "
        f"true {jaccard:.3f}."
    )
    num_perm = 128
    bands, rows = choose_bands(num_perm, 0.8)  # @inspect bands rows
    similarities = [0.5, 0.7, 0.8, 0.9]
    candidate_probability = {
        s: round(1 - (1 - s**rows) ** bands, 3) for s in similarities
    }  # @inspect candidate_probability
    text(
        f"Comparing all pairs is quadratic. LSH cuts each {num_perm}-value signature into "
        f"$b={bands}$ "
        f"bands of $r={rows}$ rows; a pair becomes a candidate when any band matches exactly, "
        "with probability $1 - (1 - J^r)^b$: an S-curve that is steep around the threshold "
        f"$(1/b)^{{1/r}} \\approx {(1 / bands) ** (1 / rows):.2f}$."
    )
    text(
        f"Normalisation first (`{normalize_for_dedup('Héllo,  World!')}`), so trivial edits don't count."
    )


def data_mixing():
    text("## Data mixing")
    docs = list(_documents(NUM_DOCS))
    kinds = Counter(_guess_kind(d) for d in docs)  # @inspect kinds @stepover
    text(
        "A training set is a **mixture** of sources with weights. Our benchmark corpus mixes "
        f"five; guessing each document's source by its shape on {len(docs)} documents: "
        f"{dict(kinds)}."
    )
    tokens = {"web": 5e12, "code": 1e12, "books": 1e11, "math": 5e10}
    weights = {"web": 0.70, "code": 0.15, "books": 0.10, "math": 0.05}
    budget = 4e12
    epochs = {k: round(budget * weights[k] / tokens[k], 2) for k in tokens}  # @inspect epochs
    text(
        f"Weights are decided per token of the training budget, so small high-quality sources are "
        f"repeated: with a {budget:.0e}-token budget and these (illustrative) sizes, books are "
        f"seen {epochs['books']} times and math {epochs['math']} times. Repeating up to ~4 epochs "
        "costs little (Muennighoff+ 2023); beyond that, returns fall fast."
    )
    link(
        url="https://arxiv.org/abs/2305.16264",
        title="Scaling data-constrained LMs",
        authors=["Muennighoff+"],
        date="2023",
    )


def summary():
    text("## Summary")
    text(
        "- Data is a pipeline: extract, identify language, mask PII, filter quality, deduplicate, mix.\n"
        "- Every stage has failure modes; always count what each removed and read samples.\n"
        "- Quality classifiers encode a choice of what is good.\n"
        "- MinHash + LSH find near duplicates in linear time with a tunable S-curve.\n"
        "- Mixture weights and repetition are the last, decisive knobs."
    )
    text("Run it yourself: `python -m lm.data pipeline --config configs/data_pipeline.yaml`.")


def _documents(limit):  # @hide
    """The first `limit` documents of the mixed benchmark corpus."""
    for i, doc in enumerate(read_documents(data_path("mix_5MB.txt"))):
        if i >= limit:
            return
        yield doc


def _plant_near_copies(docs, num_copies, changed_share, rng):  # @hide
    """Copies of random documents with `changed_share` of their words replaced."""
    planted = []
    for doc in rng.sample(docs, num_copies):
        words = doc.split()
        for i in rng.sample(range(len(words)), max(1, int(len(words) * changed_share))):
            words[i] = "CHANGED"
        planted.append(" ".join(words))
    return planted


def _shingles(sentence, n):  # @hide
    words = sentence.split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _guess_kind(doc):  # @hide
    """A rough guess of a document's source from its shape (for illustration only)."""
    if "####" in doc or "<<" in doc:
        return "math word problem"
    if "\nA." in doc or "\nA)" in doc or "Answer:" in doc:
        return "exam question"
    if "def " in doc or ">>>" in doc or ".. " in doc:
        return "python docs"
    if doc.count("\n") > 20 and doc.isupper() is False and ":\n" in doc:
        return "literature"
    return "story or other"


if __name__ == "__main__":
    main()
