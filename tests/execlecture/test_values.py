"""values.to_value: always valid JSON, capped, cycles as refs, tensors summarised."""

from __future__ import annotations

import dataclasses
import enum
import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from execlecture.schema import VALUE_KINDS
from execlecture.values import HEAD_TAIL, MAX_ELEMENTS, MAX_ITEMS, to_value


def _dumps(node: dict) -> str:
    return json.dumps(node, allow_nan=False)


def _kinds(node: object) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if "kind" in node:
            found.add(node["kind"])
        for v in node.values():
            found |= _kinds(v)
    elif isinstance(node, list):
        for v in node:
            found |= _kinds(v)
    return found


def test_scalars() -> None:
    assert to_value(5) == {"kind": "int", "value": 5}
    assert to_value(True) == {"kind": "bool", "value": True}
    assert to_value(None) == {"kind": "none"}
    assert to_value(2**80)["value"] == str(2**80)
    assert to_value(1 + 2j) == {"kind": "complex", "real": 1.0, "imag": 2.0}
    assert to_value(b"\x00\xff") == {"kind": "bytes", "value": "00ff", "length": 2}


def test_non_finite_floats_are_strings() -> None:
    assert to_value(math.nan)["value"] == "NaN"
    assert to_value(math.inf)["value"] == "Infinity"
    assert to_value(-math.inf)["value"] == "-Infinity"
    node = to_value({"x": [math.nan, np.float32("inf")]})
    _dumps(node)


def test_cycles_and_shared_references_become_refs() -> None:
    a: list = [1]
    a.append(a)
    node = to_value(a)
    assert node["items"][1] == {"kind": "ref", "id": node["id"], "type": "list"}
    shared = [0]
    pair = to_value([shared, shared])
    assert pair["items"][1]["kind"] == "ref"
    assert pair["items"][1]["id"] == pair["items"][0]["id"]
    _dumps(node)


def test_containers_are_capped_with_a_count() -> None:
    node = to_value(list(range(MAX_ITEMS + 7)))
    assert (
        len(node["items"]) == MAX_ITEMS and node["omitted"] == 7 and node["length"] == MAX_ITEMS + 7
    )
    assert to_value({3, 1, 2})["items"] == [to_value(1), to_value(2), to_value(3)]
    deep = to_value([[[[[["bottom"]]]]]])
    assert "repr" in _kinds(deep)


def test_numpy_arrays_small_and_big() -> None:
    small = to_value(np.array([[1.0, np.nan], [np.inf, 2.0]]))
    assert small["kind"] == "tensor" and small["library"] == "numpy" and small["shape"] == [2, 2]
    assert small["data"] == [[1.0, "NaN"], ["Infinity", 2.0]]
    assert small["stats"]["max"] == "NaN"
    big = to_value(np.arange(MAX_ELEMENTS + 1, dtype=np.int64))
    assert "data" not in big and big["head"][:3] == [0, 1, 2] and big["tail"][-1] == MAX_ELEMENTS
    assert big["omitted"] == MAX_ELEMENTS + 1 - 2 * HEAD_TAIL
    assert big["stats"]["min"] == 0.0 and big["stats"]["max"] == float(MAX_ELEMENTS)
    assert to_value(np.float32(1.5)) == {"kind": "float", "type": "numpy.float32", "value": 1.5}
    assert to_value(True)["kind"] == "bool" and to_value(np.bool_(True))["type"].startswith(
        "numpy.bool"
    )
    _dumps(big)


def test_torch_tensors() -> None:
    import torch

    t = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3).requires_grad_()
    node = to_value(t)
    assert node["library"] == "torch" and node["dtype"] == "bfloat16" and node["shape"] == [2, 3]
    assert node["device"] == "cpu" and node["requires_grad"] is True
    assert node["data"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    big = to_value(torch.zeros(512, 512))
    assert big["omitted"] == 512 * 512 - 2 * HEAD_TAIL
    module = to_value(torch.nn.Linear(2, 3))
    assert module["kind"] == "object" and [f[0] for f in module["fields"]][-2:] == [
        "weight",
        "bias",
    ]


@dataclasses.dataclass
class _Point:
    x: int
    y: float


class _Slotted:
    __slots__ = ("a",)

    def __init__(self) -> None:
        self.a = 1


class _BadRepr:
    __slots__ = ()

    def __repr__(self) -> str:
        raise RuntimeError("no")


class _Exploding:
    @property
    def __dict__(self) -> dict:  # type: ignore[override]
        raise RuntimeError("boom")


def test_serialization_errors_become_repr_nodes() -> None:
    node = to_value(_Exploding())
    assert node["kind"] == "repr" and "RuntimeError: boom" in node["value"]


def test_one_unserializable_item_spoils_only_its_own_node() -> None:
    # Before, the whole list became one "not serializable" repr and the 1 was lost.
    node = to_value([1, _Exploding()])
    assert node["kind"] == "list" and node["items"][0] == to_value(1)
    assert node["items"][1]["kind"] == "repr" and "RuntimeError: boom" in node["items"][1]["value"]


def test_enums_show_their_repr_not_their_internals() -> None:
    class Color(enum.Enum):
        RED = 1

    node = to_value(Color.RED)
    assert node["kind"] == "repr" and node["value"] == "<Color.RED: 1>"


def test_objects_by_fields_and_fallbacks() -> None:
    point = to_value(_Point(1, math.nan))
    assert point["kind"] == "object" and point["fields"][1] == ["y", to_value(math.nan)]
    assert to_value(_Slotted())["fields"] == [["a", to_value(1)]]
    bad = to_value(_BadRepr())
    assert bad["kind"] == "repr" and "_BadRepr" in bad["value"]  # reprlib survives a raising repr
    assert to_value(len)["kind"] == "function"
    assert to_value(math)["kind"] == "module"
    assert to_value(int) == {"kind": "type", "name": "builtins.int"}


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=3), inner, max_size=5)
        | st.tuples(inner, inner)
        | st.frozensets(st.integers(), max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(_json_like)
def test_any_value_is_valid_json_with_known_kinds(value: object) -> None:
    node = to_value(value)
    json.loads(_dumps(node))
    assert _kinds(node) <= VALUE_KINDS
