"""An old-style lecture: written for execute_util, traced by execlecture unchanged."""

from execute_util import image, link, system_text, text
from helpers import double
from references import transformer_paper


def main():
    text("# An old-style lecture")
    text("This line is gray.", style={"color": "gray"})
    label = link(transformer_paper)
    text(f"As {label} showed, attention is all you need.")
    link(double)
    link(title="The course page", url="https://example.com/course")
    image("images/dot.png", width=40)
    system_text(["echo", "hello from system_text"])
    x = double(21)  # @inspect x
    text(f"verbatim   spacing, x = {x}", verbatim=True)


if __name__ == "__main__":
    main()
