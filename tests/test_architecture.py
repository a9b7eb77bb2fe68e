"""Dependencies go one way (see ../shared/STYLE.md section 1); this test is the rule in code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"execlecture", "viewer", "lm", "lectures", "benchmarks", "tests"}

# package -> first-party top-level packages it may import (module-level or lazily).
ALLOWED = {
    "lm": {"lm"},
    "execlecture": {"execlecture"},
    # legacy_trace is a leaf like schema (stdlib + schema): the viewer converts old traces on load.
    "viewer": {"viewer", "execlecture.schema", "execlecture.legacy_trace"},
    "lectures": {"execlecture", "lm", "lectures"},
}
# The CLI may import the viewer, but only lazily (inside a function).
LAZY_EXCEPTIONS = {("execlecture/cli.py", "viewer")}
EXECLECTURE_THIRD_PARTY = {"numpy", "yaml", "rich", "torch"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module name, is_top_level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level_nodes = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.extend((n, id(node) in top_level_nodes) for n in names)
    return found


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_first_party_edges(package: str) -> None:
    bad = []
    for path in _files(package):
        rel = path.relative_to(ROOT).as_posix()
        for name, is_top in _imports(path):
            top = name.split(".")[0]
            if top not in FIRST_PARTY:
                continue
            allowed = ALLOWED[package]
            if top in allowed or name in allowed or any(name.startswith(a + ".") for a in allowed):
                continue
            if (rel, top) in LAZY_EXCEPTIONS and not is_top:
                continue
            bad.append(f"{rel} imports {name}")
    assert not bad, "forbidden import edges:\n" + "\n".join(bad)


@pytest.mark.parametrize("module", ["schema", "legacy_trace"])
def test_viewer_imports_are_leaves(module: str) -> None:
    """The execlecture modules the viewer may import use only the stdlib (and schema)."""
    import sys

    names = {n for n, _ in _imports(ROOT / "execlecture" / f"{module}.py")}
    bad = {
        n
        for n in names
        if n.split(".")[0] not in sys.stdlib_module_names and n != "execlecture.schema"
    }
    assert not bad, f"{module}.py must import only the stdlib and execlecture.schema, found {bad}"


def test_execlecture_third_party() -> None:
    """execlecture/ uses the stdlib, numpy, pyyaml, rich, and torch lazily; never lm/viewer."""
    import sys

    bad = []
    for path in _files("execlecture"):
        rel = path.relative_to(ROOT).as_posix()
        for name, is_top in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in FIRST_PARTY:
                continue
            if top not in EXECLECTURE_THIRD_PARTY or (top == "torch" and is_top):
                bad.append(f"{rel} imports {name}" + (" at module level" if is_top else ""))
    assert not bad, (
        "execlecture/ may import only stdlib, numpy, yaml, rich (torch lazily):\n" + "\n".join(bad)
    )


def test_lm_third_party() -> None:
    import sys

    allowed = {"torch", "triton", "regex", "numpy", "yaml", "rich"}
    # lm/data uses well-kept libraries for jobs we would not do better (HTML text, language id).
    data_allowed = {"resiliparse", "py3langid"}
    bad = []
    for path in _files("lm"):
        is_data = path.is_relative_to(ROOT / "lm" / "data")
        for name, _ in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "lm" or top in allowed:
                continue
            if is_data and top in data_allowed:
                continue
            bad.append(f"{path.relative_to(ROOT).as_posix()} imports {name}")
    assert not bad, (
        "lm/ may import only torch, triton, regex, numpy (yaml/rich for CLIs):\n" + "\n".join(bad)
    )
