"""stdout/stderr capture: output attaches to the step that printed it (also passed through)."""

import sys

from execlecture import text


def shout(word):
    print(word.upper())


def main():
    print("hello")
    print("to stderr", file=sys.stderr)
    shout("inner")
    text("a *rendering* and output on one line"); print("same line")  # fmt: skip
    sys.stdout.write("no newline")


if __name__ == "__main__":
    main()
