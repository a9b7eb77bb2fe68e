"""Language identification with py3langid (langid.py's model ships in the package: no download).

Returns a calibrated probability so filters can use a threshold, as fastText's lid.176 is used in
the CCNet/Dolma pipelines.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code and its probability: `"Guten Morgen, wie geht es dir?" -> ("de", 0.99...)`."""
    if not isinstance(text, str):
        raise TypeError(f"identify_language(): expected str, got {type(text).__name__}")
    language, probability = _identifier().classify(text.replace("\n", " "))
    return str(language), float(probability)
