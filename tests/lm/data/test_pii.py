"""lm.data.pii on realistic strings: recall on common formats, precision on look-alikes."""

from __future__ import annotations

import pytest

from lm.data.pii import EMAIL_MASK as E
from lm.data.pii import IP_MASK as IP
from lm.data.pii import PHONE_MASK as P
from lm.data.pii import mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Jane Doe <jane.doe@example.com>", f"Jane Doe <{E}>"),
        ("mailto:info@example.org?subject=hi", f"mailto:{E}?subject=hi"),
        ("write JOHN_SMITH@Example.CO.UK.", f"write {E}."),
        ("call 1-800-555-0199 today", f"call {P} today"),  # no "1-" left behind
        ("call 1 (800) 555-0199", f"call {P}"),
        ("call +1 (415) 555-0100.", f"call {P}."),
        ("phone: +44 (0)20 7946 0958", f"phone: {P}"),
        ("fax 415.555.0100 ext. 12", f"fax {P} ext. 12"),
        ("see http://192.168.0.1:8080/admin", f"see http://{IP}:8080/admin"),
        ("ip=127.0.0.1,port=80", f"ip={IP},port=80"),
        ("net 10.0.0.5/24", f"net {IP}/24"),
    ],
)
def test_pii_recall(text: str, masked: str) -> None:
    assert mask_pii(text)[0] == masked


@pytest.mark.parametrize(
    "text",
    [
        "retina images icon@2x.png and logo@3x.jpg",
        "order #1234567890 shipped",
        "created at 1700000000 (unix time)",
        "ISBN 978-0-306-40615-7",
        "on 2023-10-05 at 10:30, CVE-2021-44228",
        "coordinates 37.7749, -122.4194",
        "SKU 12345-678-9012",
    ],
)
def test_pii_precision(text: str) -> None:
    assert mask_pii(text) == (text, {"emails": 0, "phone_numbers": 0, "ips": 0})
