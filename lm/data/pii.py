"""PII masking: e-mail addresses, phone numbers and IPv4 addresses replaced by placeholders.

Rules follow the CS336 data assignment: each function returns (masked text, number masked) so a
pipeline can report what it removed. Regexes favour precision on prose over exotic formats.
"""

from __future__ import annotations

import re

EMAIL_MASK = "|||EMAIL_ADDRESS|||"
PHONE_MASK = "|||PHONE_NUMBER|||"
IP_MASK = "|||IP_ADDRESS|||"

# Subtle: "icon@2x.png" (retina image names) is the shape of an address; file-extension "TLDs"
# are excluded, since no real domain ends in them.
_FILE_EXTENSION = r"(?i:png|jpe?g|gif|svg|webp|bmp|ico|tiff?)\b"
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    rf"\.(?!{_FILE_EXTENSION})[A-Za-z]{{2,}}\b"
)
# 1. North American and other 3-3-4 numbers: optional +CC or a bare "1" trunk prefix (else
#    "1-800-555-0199" leaves "1-" behind), (area) or area + separator.
# 2. International: +CC, an optional "(0)" trunk marker, 3-4 groups of 2-4 digits.
# 3. Ten bare digits only as a valid NANP number (area and exchange start with 2-9): bare
#    10-digit runs are more often order ids or Unix times (1700000000) than phone numbers.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?|1[\s.-])?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\d)"
    r"|(?<![\w+])\+\d{1,3}(?:\s?\(0\))?(?:[\s.-]?\d{2,4}){3,4}(?!\d)"
    r"|(?<![\w+.#-])[2-9]\d{2}[2-9]\d{6}(?![\w.-])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\d|\.\d)")


def _mask(pattern: re.Pattern[str], text: str, placeholder: str) -> tuple[str, int]:
    if not isinstance(text, str):
        raise TypeError(f"expected str text, got {type(text).__name__}")
    return pattern.subn(placeholder, text)


def mask_emails(text: str) -> tuple[str, int]:
    """`"mail me: a.b@x.org" -> ("mail me: |||EMAIL_ADDRESS|||", 1)`."""
    return _mask(_EMAIL, text, EMAIL_MASK)


def mask_phone_numbers(text: str) -> tuple[str, int]:
    """`"call (415) 555-0100" -> ("call |||PHONE_NUMBER|||", 1)`."""
    return _mask(_PHONE, text, PHONE_MASK)


def mask_ips(text: str) -> tuple[str, int]:
    """`"host 10.0.0.1 up" -> ("host |||IP_ADDRESS||| up", 1)`."""
    return _mask(_IPV4, text, IP_MASK)


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """All three maskings; returns the text and counts by kind."""
    text, emails = mask_emails(text)
    text, phones = mask_phone_numbers(text)
    text, ips = mask_ips(text)
    return text, {"emails": emails, "phone_numbers": phones, "ips": ips}
