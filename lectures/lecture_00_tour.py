"""Lecture 00: a tour of executable lectures

This lecture shows every feature of execlecture: prose with math and code, the four directives, images,
plots, printed output and links. It is also the tracer's golden input and the viewer's demo, so it stays
small (numpy only: importing torch alone would cost ~250 MB of memory).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed: plots are stored as SVG
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from execlecture import image, link, note, plot, text  # noqa: E402

IS_SMOKE = os.environ.get("EXECLECTURE_SMOKE") == "1"
IMAGES = Path(__file__).parent / "images"


def main():
    prose_and_math()  # markdown, math and code blocks
    inspecting_values()  # the inspect and clear directives show what a line did
    stepping()  # the stepover and hide directives choose what the reader steps through
    pictures()  # images and matplotlib plots
    output_and_links()  # printed output, papers and code links


def prose_and_math():
    """Prose, math and code"""
    text("# A tour of executable lectures")
    text(
        "A lecture is a Python program. Its `main()` is the outline; each section is a function. "
        "Prose is **markdown**, with inline math such as $p(x_t \\mid x_{<t})$ and display math:"
    )
    text(
        "$$\\mathcal{L}(\\theta) = -\\frac{1}{T}\\sum_{t=1}^{T} \\log p_\\theta(x_t \\mid x_{<t})$$"
    )
    text(
        "Code blocks are shown as code:\n\n"
        "```python\n"
        "def softmax(x):\n"
        "    e = np.exp(x - x.max())\n"
        "    return e / e.sum()\n"
        "```"
    )
    note("Notes like this one are asides for the reader (or the speaker).")
    text(
        "Every number in a lecture is computed when the lecture is traced, never typed in:",
        style={"color": "gray"},
    )
    vocab_size = 50257  # @inspect vocab_size
    num_bits = int(np.ceil(np.log2(vocab_size)))  # @inspect num_bits
    text(f"A GPT-2 token id needs {num_bits} bits, since $2^{{{num_bits}}} \\geq {vocab_size}$.")


@dataclass
class Point:
    x: float
    y: float


def softmax(logits):
    """Numerically stable softmax: subtract the max before exp."""
    shifted = logits - logits.max()  # @inspect shifted
    e = np.exp(shifted)  # @inspect e
    return e / e.sum()


def inspecting_values():
    """Inspecting values"""
    text("`# @inspect name` at the end of a line shows `name` after the line has run.")
    count = 0  # @inspect count
    for word in ["the", "cat", "sat"]:  # @inspect word
        count += len(word)  # @inspect count
    text(f"The words have {count} letters in total.")

    text("Values of any type are shown: containers, dataclasses, arrays (with their statistics).")
    point = Point(x=1.5, y=-2.0)  # @inspect point point.x
    table = {"a": [1, 2, 3], "b": (4.5, None), "c": {"nested": True}}  # @inspect table
    logits = np.array([2.0, 1.0, 0.1, -1.0])  # @inspect logits
    probs = softmax(logits)  # @inspect probs
    total = float(probs.sum())  # @inspect total
    weird = np.array([np.nan, np.inf, -np.inf, 0.0])  # @inspect weird
    size = 16 if IS_SMOKE else 128
    big = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)  # @inspect big
    text(
        f"`big` has {big.size} elements: the trace keeps its statistics and only its head and tail."
    )

    text("`# @clear name` stops showing a name once it is no longer interesting.")
    del table  # @clear table point
    rate = 1e-3 * count  # @inspect rate


def collatz_steps(n):
    """How many Collatz steps take n to 1."""
    num_steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        num_steps += 1
    return num_steps


def squares(k):
    """A generator: each resumption continues in the same frame."""
    for i in range(k):
        yield i * i


def stepping():
    """Stepping in and over"""
    text("Stepping into a call shows its lines; the caller's line finishes after the call returns.")
    steps_for_6 = collatz_steps(6)  # @inspect steps_for_6
    text("`# @stepover` runs a call without stepping into it:")
    steps_for_27 = collatz_steps(27)  # @stepover @inspect steps_for_27
    text(f"27 takes {steps_for_27} steps to reach 1 (we did not step through them).")
    seed = 1234  # @hide
    text("`# @hide` removes a line (or a whole function, when on its `def`) from the steps.")
    values = [v for v in squares(4) if v >= 0]  # @inspect values
    evens = sum(v for v in values if v % 2 == 0)  # @inspect evens
    total = hidden_total(values) + seed  # @inspect total


def hidden_total(values):  # @hide
    """Bookkeeping the reader does not need to see."""
    acc = 0
    for v in values:
        acc += v
    return acc


def pictures():
    """Images and plots"""
    text("Images come from files (embedded in the trace) or from arrays:")
    image(str(IMAGES / "gradient.png"), width=128)
    ys, xs = np.mgrid[0:64, 0:64]
    checker = ((xs // 8 + ys // 8) % 2).astype(np.float32)  # @inspect checker
    image(checker, width=128)
    text("Plots are matplotlib figures, stored as SVG:")
    x = np.linspace(-4, 4, 200)
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot(x, 1 / (1 + np.exp(-x)), label="sigmoid")
    ax.plot(x, np.tanh(x), label="tanh")
    ax.legend()
    ax.set_title("Two activations")
    plot(fig)
    plt.close(fig)


def output_and_links():
    """Output and links"""
    print("Printed output is captured at the step that printed it.")
    for i in range(3):
        print(f"line {i}")
    text("Links point to papers (with details) or to code:")
    link(
        "https://arxiv.org/abs/1706.03762",
        title="Attention Is All You Need",
        authors=["Vaswani et al."],
        date="2017",
        organization="Google",
    )
    link(softmax)
    link(collatz_steps, title="the Collatz step counter")
    try:
        int("not a number")
    except ValueError as error:
        message = str(error)  # @inspect message
    text(f"Exceptions that are caught show up as steps too: `{message}`.")


if __name__ == "__main__":
    main()
