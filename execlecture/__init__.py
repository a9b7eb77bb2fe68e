"""execlecture: lectures as Python programs, traced step by step and viewed in a browser.

Lectures call the render verbs below; `execlecture run` traces them (see execlecture.cli).
"""

from execlecture.api import image, link, note, plot, text

__all__ = ["image", "link", "note", "plot", "text"]
__version__ = "0.1.0"
