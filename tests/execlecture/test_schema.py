"""schema.load_trace rejects malformed traces with a ValueError naming the path, nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from execlecture.schema import SCHEMA_VERSION, load_trace

VALID: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION, "lecture": "x.py", "title": "x", "created": "",
    "python_version": "3.11", "torch_version": None, "status": "ok",
    "files": [{"path": "x.py", "sha256": "0", "text": "x = 1\n"}],
    "steps": [{"file": 0, "line": 1, "function": "main", "frame": 0,
               "values": {"x": {"kind": "int", "value": 1}}}],
}  # fmt: skip


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def test_valid_trace_loads() -> None:
    assert load_trace(copy.deepcopy(VALID)).steps[0].values["x"]["value"] == 1


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["steps", 0, "values", "x"], {"kind": {}}, r"trace\.steps\[0\]\.values\['x'\]"),
        (["steps", 0, "values", "x"], {"kind": ["int"]}, r"known 'kind'"),
        (["steps", 0, "values", "x"], {"kind": "float", "value": float("nan")}, "non-finite"),
        (["steps", 0, "file"], 3, r"trace\.steps\[0\]\.file: 3 is not a file index"),
        (["steps", 0, "event"], "jump", r"trace\.steps\[0\]\.event: 'jump'"),
        (["steps", 0, "line"], "7", r"trace\.steps\[0\]\.line: expected int"),
        (["status"], "error", "trace.exception: missing"),
        (["schema_version"], 99, "trace.schema_version: 99"),
    ],
)
def test_malformed_traces_raise_value_error_with_path(
    path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_trace(_with(path, value))
