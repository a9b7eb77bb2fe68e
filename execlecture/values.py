"""Turn any Python value into a JSON value node for the inspect panel (docs/trace-format.md).

Nodes are plain dicts with a "kind" from schema.VALUE_KINDS. Output is always valid JSON: non-finite
floats become the strings "NaN", "Infinity", "-Infinity". Containers are capped (with a count of
what was left out), tensors are summarised (dtype, shape, stats, data up to MAX_ELEMENTS, else
head/tail), and cycles or shared references become {"kind": "ref", "id": n} pointing at the node
that carries "id": n.
torch is used only when the lecture already imported it (we never import it here).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import reprlib
import sys
import types
from typing import Any

MAX_ITEMS = 100
"""Items shown per list/tuple/set/dict; the rest are counted in "omitted"."""
MAX_DEPTH = 4
"""Nesting depth before falling back to a short repr."""
MAX_STR = 2000
"""Characters of a str (or bytes shown) before truncation."""
MAX_ELEMENTS = 4096
"""Tensor/array elements shown in full; beyond this only head and tail."""
HEAD_TAIL = 32
"""Elements in the head and in the tail of a large tensor."""
SIGNIFICANT_DIGITS = 6
"""Float tensor contents are rounded for display (stats are not)."""

_repr = reprlib.Repr()
_repr.maxstring = 200
_repr.maxother = 200


def _float(x: float) -> float | str:
    """A JSON-safe float: 1.5 -> 1.5, nan -> "NaN", -inf -> "-Infinity"."""
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def _type_name(obj: Any) -> str:
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _short_repr(obj: Any) -> str:
    try:
        return _repr.repr(obj)
    except Exception as exc:  # a user __repr__ may raise anything
        return f"<{_type_name(obj)} (repr failed: {type(exc).__name__})>"


def _round_nested(data: Any) -> Any:
    """Round floats in nested lists to SIGNIFICANT_DIGITS and encode non-finite ones."""
    if isinstance(data, list):
        return [_round_nested(v) for v in data]
    if isinstance(data, float):
        return float(f"{data:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(data) else _float(data)
    if isinstance(data, complex):
        return [_round_nested(data.real), _round_nested(data.imag)]
    return data


class _Serializer:
    """One serialization; remembers container ids to emit refs for cycles and shared objects."""

    def __init__(self) -> None:
        self.memo: dict[int, dict[str, Any]] = {}
        self.keep: list[Any] = []  # keeps ids stable while serializing
        self.next_id = 0

    def node(self, obj: Any, depth: int = 0) -> dict[str, Any]:
        """The node of one value; "type" is left out where it equals "kind" (int, list, ...)."""
        out = self._node(obj, depth)
        if out.get("type") == out["kind"]:
            del out["type"]
        return out

    def _node(self, obj: Any, depth: int) -> dict[str, Any]:
        if obj is None:
            return {"kind": "none"}
        scalar = self._scalar(obj)
        if scalar is not None:
            return scalar
        key = id(obj)
        if key in self.memo:
            target = self.memo[key]
            if "id" not in target:
                target["id"] = self.next_id
                self.next_id += 1
            return {"kind": "ref", "id": target["id"], "type": _type_name(obj)}
        if depth >= MAX_DEPTH:
            return {"kind": "repr", "type": _type_name(obj), "value": _short_repr(obj)}
        out: dict[str, Any] = {"kind": "repr", "type": _type_name(obj)}
        self.memo[key] = out
        self.keep.append(obj)
        try:
            out.update(self._compound(obj, depth))
        except Exception as exc:  # one odd object (a raising __len__...) spoils only its own node
            out.clear()
            out.update(kind="repr", type=_type_name(obj), value=_failed(exc))
        return out

    def _scalar(self, obj: Any) -> dict[str, Any] | None:
        t = _type_name(obj)
        if isinstance(obj, bool):
            return {"kind": "bool", "type": t, "value": obj}
        if isinstance(obj, int):
            is_safe = abs(obj) < 2**53
            return {"kind": "int", "type": t, "value": obj if is_safe else str(obj)}
        if isinstance(obj, float):
            return {"kind": "float", "type": t, "value": _float(obj)}
        if isinstance(obj, complex):
            return {
                "kind": "complex",
                "type": t,
                "real": _float(obj.real),
                "imag": _float(obj.imag),
            }
        if isinstance(obj, str):
            node: dict[str, Any] = {"kind": "str", "type": t, "value": obj[:MAX_STR]}
            if len(obj) > MAX_STR:
                node.update(length=len(obj), omitted=len(obj) - MAX_STR)
            return node
        if isinstance(obj, bytes | bytearray):
            node = {
                "kind": "bytes",
                "type": t,
                "value": bytes(obj[:MAX_STR]).hex(),
                "length": len(obj),
            }
            if len(obj) > MAX_STR:
                node["omitted"] = len(obj) - MAX_STR
            return node
        np = sys.modules.get("numpy")
        if np is not None and isinstance(obj, np.generic) and not isinstance(obj, np.void):
            item = obj.item()
            inner = self._scalar(item)
            if inner is not None:
                inner["type"] = t
            return inner
        return None

    def _compound(self, obj: Any, depth: int) -> dict[str, Any]:
        """Fields for containers, tensors, objects (the caller adds kind/type defaults)."""
        if isinstance(obj, list | tuple | set | frozenset):
            kind = "tuple" if isinstance(obj, tuple) else type(obj).__name__
            if kind not in ("list", "tuple", "set", "frozenset"):
                kind = "list" if isinstance(obj, list) else "set" if isinstance(obj, set) else kind
            items = list(obj) if not isinstance(obj, set | frozenset) else _sorted(obj)
            shown = [self.node(v, depth + 1) for v in items[:MAX_ITEMS]]
            return _capped(
                {"kind": kind, "items": shown, "length": len(items)}, len(items) - len(shown)
            )
        if isinstance(obj, dict):
            pairs = list(obj.items())[:MAX_ITEMS]
            shown_pairs = [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in pairs]
            node = {"kind": "dict", "items": shown_pairs, "length": len(obj)}
            return _capped(node, len(obj) - len(shown_pairs))
        tensor = _tensor(obj)
        if tensor is not None:
            return tensor
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | types.MethodType):
            return {"kind": "function", "name": getattr(obj, "__qualname__", repr(obj)),
                    "module": getattr(obj, "__module__", None) or ""}  # fmt: skip
        if isinstance(obj, types.ModuleType):
            return {"kind": "module", "name": obj.__name__}
        if isinstance(obj, type):
            return {"kind": "type", "name": f"{obj.__module__}.{obj.__qualname__}"}
        if isinstance(obj, enum.Enum):  # its repr (<Color.RED: 1>), not _value_/_name_ internals
            return {"kind": "repr", "value": _short_repr(obj)}
        fields = _fields(obj)
        if fields is None:
            return {"kind": "repr", "value": _short_repr(obj)}
        shown_fields = [[name, self.node(v, depth + 1)] for name, v in fields[:MAX_ITEMS]]
        node = {"kind": "object", "fields": shown_fields, "repr": _short_repr(obj)}
        return _capped(node, len(fields) - len(shown_fields))


def _capped(node: dict[str, Any], omitted: int) -> dict[str, Any]:
    """Add "omitted" only when something was left out (keeps traces small)."""
    if omitted > 0:
        node["omitted"] = omitted
    return node


def _sorted(items: set[Any] | frozenset[Any]) -> list[Any]:
    """Sets in a deterministic order when their items compare, else by repr."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=_short_repr)


def _fields(obj: Any) -> list[tuple[str, Any]] | None:
    """(name, value) fields of a dataclass, nn.Module or plain object; None for opaque objects."""
    if dataclasses.is_dataclass(obj):
        return [(f.name, getattr(obj, f.name, None)) for f in dataclasses.fields(obj)]
    parameters = getattr(obj, "_parameters", None)
    modules = getattr(obj, "_modules", None)
    if isinstance(parameters, dict) and isinstance(modules, dict):  # a torch nn.Module
        plain = [(k, v) for k, v in vars(obj).items() if not k.startswith("_") and k != "training"]
        return plain + list(parameters.items()) + list(modules.items())
    try:
        attrs = vars(obj)
    except TypeError:
        slots = [s for cls in type(obj).__mro__ for s in getattr(cls, "__slots__", ())]
        if not slots:
            return None
        return [(s, getattr(obj, s)) for s in slots if hasattr(obj, s)]
    return [(k, v) for k, v in attrs.items() if not k.startswith("__")]


def _tensor(obj: Any) -> dict[str, Any] | None:
    """A tensor node for a torch tensor or numpy array, else None."""
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        if obj.is_sparse or obj.device.type == "meta":
            return None
        t = obj.detach()
        dtype = str(t.dtype).removeprefix("torch.")
        node: dict[str, Any] = {"kind": "tensor", "library": "torch", "dtype": dtype,
                                "shape": list(t.shape), "device": str(t.device)}  # fmt: skip
        if obj.requires_grad:
            node["requires_grad"] = True
        if t.numel() and not t.is_complex():
            # Stats with torch itself: no copy of the whole tensor to numpy/float64.
            f = t.float() if t.is_floating_point() else t.double()
            low, high = torch.aminmax(f)
            node["stats"] = _stats(low, high, f.mean(), f.std(unbiased=False))
        return _contents(t.reshape(-1), int(t.numel()), t.tolist, node)
    if np is not None and isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufc":
            return None
        node = {"kind": "tensor", "library": "numpy", "dtype": str(obj.dtype),
                "shape": list(obj.shape), "device": "cpu"}  # fmt: skip
        if obj.size and obj.dtype.kind in "biuf":
            # subtle: inf - inf inside std() is NaN by design; numpy would also warn about it.
            with np.errstate(invalid="ignore", over="ignore"):
                node["stats"] = _stats(obj.min(), obj.max(), obj.mean(dtype=np.float64),
                                       obj.std(dtype=np.float64))  # fmt: skip
        return _contents(obj.reshape(-1), int(obj.size), obj.tolist, node)
    return None


def _stats(low: Any, high: Any, mean: Any, std: Any) -> dict[str, float | str]:
    """JSON-safe summary statistics from 0-d tensors or numpy scalars."""
    return {"min": _float(float(low)), "max": _float(float(high)),
            "mean": _float(float(mean)), "std": _float(float(std))}  # fmt: skip


def _contents(flat: Any, size: int, tolist: Any, node: dict[str, Any]) -> dict[str, Any]:
    """Add the contents: all of them up to MAX_ELEMENTS, else HEAD_TAIL from each end."""
    if size <= MAX_ELEMENTS:
        node["data"] = _round_nested(tolist())
    else:
        node["head"] = _round_nested(flat[:HEAD_TAIL].tolist())
        node["tail"] = _round_nested(flat[-HEAD_TAIL:].tolist())
        node["omitted"] = size - 2 * HEAD_TAIL
    return node


def _failed(exc: Exception) -> str:
    """The text shown for a value whose serialization raised."""
    return f"<not serializable: {type(exc).__name__}: {exc}>"[:MAX_STR]


def to_value(obj: Any) -> dict[str, Any]:
    """Serialize one value into a JSON value node.

    5 -> {"kind": "int", "value": 5}
    """
    try:
        return _Serializer().node(obj)
    except Exception as exc:  # the tracer calls this inside the lecture: it must never raise
        return {"kind": "repr", "type": _type_name(obj), "value": _failed(exc)}
