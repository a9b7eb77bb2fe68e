"""lm.data: turning raw web-like text into training data (extract, identify, mask, filter, dedup).

Each stage is a pure function over text (or a stream of documents); `pipeline.py` chains them.
"""

from lm.data.dedup import exact_line_dedup, minhash_dedup, minhash_signatures, near_duplicate_pairs
from lm.data.extract import html_to_text
from lm.data.language import identify_language
from lm.data.pii import mask_emails, mask_ips, mask_phone_numbers, mask_pii
from lm.data.quality import QualityClassifier, gopher_quality_filter

__all__ = [
    "QualityClassifier",
    "exact_line_dedup",
    "gopher_quality_filter",
    "html_to_text",
    "identify_language",
    "mask_emails",
    "mask_ips",
    "mask_phone_numbers",
    "mask_pii",
    "minhash_dedup",
    "minhash_signatures",
    "near_duplicate_pairs",
]
