"""The levels of the tree hold: backbones → primitives → heads; eval below heads; the app on top.

Every ``import unitrack...`` of every module (including imports inside functions) is checked against
what its level may use, so a shortcut across levels fails here rather than in a code review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK = {"api", "config", "tasks", "results", "__init__"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    top = {"backbones": "unitrack.backbones", "heads": "unitrack.heads", "eval": "unitrack.eval",
           "unitrack": "unitrack"}[parts[0]]
    name = ".".join([top, *parts[1:]])
    return name.removesuffix(".__init__")


def _level(mod: str) -> str:
    parts = mod.split(".")
    if mod == "unitrack.__main__":  # `python -m unitrack` is the command line
        return "app"
    if len(parts) < 2:
        return "framework"
    second = parts[1]
    if second in ("backbones", "heads", "eval", "app"):
        return second
    return "framework" if second in FRAMEWORK else "primitives"


# level → levels it must never import
FORBIDDEN = {
    "backbones": {"heads", "eval", "app", "framework", "primitives"},
    "primitives": {"heads", "eval", "app", "framework"},
    "eval": {"heads", "app"},
    "heads": {"app"},
    "framework": {"app"},
    "app": set(),
}
# narrow exceptions: the backbone level may use the shared utilities and the weights cache
ALLOWED = {"backbones": {"unitrack.utils", "unitrack.weights"}, "primitives": {"unitrack.backbones"}}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("unitrack")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("unitrack") and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names]
            out += [(node.lineno, n if _is_module(n) else node.module) for n in names]
    return out


def _is_module(name: str) -> bool:
    parts = name.split(".")
    top = {"backbones": "backbones", "heads": "heads", "eval": "eval"}.get(parts[1] if len(parts) > 1 else "", "unitrack")
    rest = parts[2:] if top != "unitrack" else parts[1:]
    base = ROOT / top
    p = base.joinpath(*rest) if rest else base
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def _sources() -> list[Path]:
    files = []
    for top in ("backbones", "heads", "eval", "unitrack"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def _violations() -> list[str]:
    bad = []
    for path in _sources():
        mod = _module_name(path)
        lvl = _level(mod)
        for line, imp in _imports(path):
            target = _level(imp)
            if imp in ALLOWED.get(lvl, set()) or any(imp.startswith(a + ".") for a in ALLOWED.get(lvl, set())):
                continue
            if target == lvl and lvl == "heads" and imp != mod and imp.startswith("unitrack.heads."):
                bad.append(f"{path.relative_to(ROOT)}:{line}: head imports another head ({imp})")
            elif target in FORBIDDEN[lvl]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {lvl} imports {target} ({imp})")
    return bad


def test_levels_hold():
    assert _violations() == []


@pytest.mark.parametrize("mod, level", [("unitrack.propagation", "primitives"), ("unitrack.association.tracker",
                                        "primitives"), ("unitrack.app.viz", "app"), ("unitrack.tasks", "framework"),
                                        ("unitrack.heads.vos", "heads"), ("unitrack.eval.davis", "eval")])
def test_level_classification(mod, level):
    assert _level(mod) == level


def test_checker_catches_a_violation(tmp_path, monkeypatch):
    bad = ROOT / "heads" / "_layer_probe_tmp.py"
    bad.write_text("from unitrack.app import viz\nfrom unitrack.heads import vos\n")
    try:
        v = [x for x in _violations() if "_layer_probe_tmp" in x]
    finally:
        bad.unlink()
    assert len(v) == 2 and "heads imports app" in v[0] and "another head" in v[1]
