"""Paper references as objects with title/authors/url, as older lectures define them."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reference:
    title: str
    authors: list = field(default_factory=list)
    organization: str | None = None
    date: str | None = None
    url: str | None = None
    description: str | None = None
    notes: str | None = None


transformer_paper = Reference(
    title="Attention is all you need",
    authors=["Vaswani", "Shazeer", "Parmar"],
    organization="Google",
    date="2017-06-12",
    url="https://arxiv.org/abs/1706.03762",
    notes="The Transformer.",
)
