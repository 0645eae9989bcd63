"""The shape of the house: every module imports, and imports flow one way.

train (data, models, teachers, distillation) -> export (onnx, quantize, tensorrt) -> the model file
-> sdk (edgeemo). Recipes (the five-fold comparison, the builds of the shipped models) sit above
train and export; nothing imports them. The rules are read from the code's own import statements,
including imports inside functions, so a lazy import cannot hide a wrong-way dependency.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _package_roots() -> dict[str, Path]:
    """Import prefix -> folder, from pyproject.toml's ``package-dir`` (longest prefix first)."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = cfg["tool"]["setuptools"]["package-dir"]
    roots = {name: ROOT / folder for name, folder in mapping.items()}
    return dict(sorted(roots.items(), key=lambda kv: -len(kv[0])))


ROOTS = _package_roots()
NESTED = {name: path for name, path in ROOTS.items() if name != "edgeemo"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for prefix, folder in ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder)
            if prefix == "edgeemo" and any(
                (ROOT / "sdk" / rel).is_relative_to(p) for p in NESTED.values()
            ):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([prefix, *parts])
            found[name] = Module(name, path)
    return found


MODULES = _modules()


def _layer(module: str) -> str:
    """'sdk', 'train', 'export' or 'recipes' for a project module name."""
    for prefix in NESTED:
        if module == prefix or module.startswith(prefix + "."):
            return prefix.split(".")[1]
    return "sdk"


def _resolve(importer: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.name.split(".")
    if not importer.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _project_target(name: str) -> str | None:
    """The longest project module that ``name`` names (or lies inside), else None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: Module) -> Iterator[tuple[str, int]]:
    """(project module imported, line) for every import statement, at any depth."""
    tree = ast.parse(module.path.read_text(), filename=str(module.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _project_target(alias.name)
                if target:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            for alias in node.names:
                target = _project_target(f"{base}.{alias.name}") or _project_target(base)
                if target:
                    yield target, node.lineno
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            target = _project_target(node.args[0].value)
            if target:
                yield target, node.lineno


GRAPH = {name: sorted(set(imports_of(mod))) for name, mod in MODULES.items()}

# Which layer may import which (besides itself). The core runtime (edgeemo) is the bottom layer.
ALLOWED = {
    "sdk": {"sdk"},
    "train": {"train", "sdk"},
    "export": {"export", "train", "sdk"},
    "recipes": {"recipes", "export", "train", "sdk"},
}


def test_the_layers_are_the_ones_this_test_knows() -> None:
    assert {_layer(m) for m in MODULES} <= set(ALLOWED)
    assert {"sdk", "train", "export"} <= {_layer(m) for m in MODULES}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_imports_flow_one_way() -> None:
    wrong = [
        f"{MODULES[src].path.relative_to(ROOT)}:{line} imports {dst} ({_layer(src)} -> {_layer(dst)})"
        for src, targets in GRAPH.items()
        for dst, line in targets
        if _layer(dst) not in ALLOWED[_layer(src)]
    ]
    assert not wrong, "imports against the data flow:\n" + "\n".join(wrong)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    # An edge from a module to the __init__ of a package that contains it (a submodule taking a
    # name its own package re-exports) is left out: it is how packages are built, not a tangle.
    edges = {
        src: {dst for dst, _ in targets if dst != src and not src.startswith(dst + ".")}
        for src, targets in GRAPH.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_modules() -> None:
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_wrong_way_and_cyclic_imports(tmp_path: Path) -> None:
    """The rules above can fail: a fake sdk module importing train is reported."""
    fake = Module("edgeemo.fake_layout_probe", tmp_path / "probe.py")
    fake.path.write_text(
        "def f():\n    from edgeemo.train import data\n    import edgeemo.export.quantize\n"
        "from . import recognizer\n"
    )
    targets = {dst for dst, _ in imports_of(fake)}
    assert "edgeemo.train.data" in targets
    assert "edgeemo.export.quantize" in targets
    assert "edgeemo.recognizer" in targets
    assert {_layer(t) for t in targets} - ALLOWED["sdk"] == {"train", "export"}


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    """A package folder missing from pyproject's ``packages`` works in the editable install and is
    silently left out of the wheel."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(cfg["tool"]["setuptools"]["packages"])
    packages = {name for name, mod in MODULES.items() if mod.is_package}
    assert packages - listed == set(), "add these to [tool.setuptools] packages"
    def folder(name: str) -> Path:
        prefix = next(p for p in ROOTS if name == p or name.startswith(p + "."))
        return ROOTS[prefix].joinpath(*name[len(prefix):].split(".")[1:])

    # data-only packages (the bundled models) have no __init__.py but must exist
    assert [n for n in listed - packages if not folder(n).is_dir()] == [], "listed but missing"
