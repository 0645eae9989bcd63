"""Shared fixtures: where the real data lives, and small subsets of it."""

from __future__ import annotations

import csv
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures"


def load_test_module(name: str, path: Path) -> ModuleType:
    """Import a helper file of the tests by path, once (tests are not a package: importlib mode)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def test_module_loader():
    """:func:`load_test_module`, for conftests and tests below this folder."""
    return load_test_module


@pytest.fixture(scope="session")
def make_models() -> ModuleType:
    """The tests/fixtures/make_models.py module (tiny contract models, valid and broken)."""
    return load_test_module("edgeemo_test_make_models", FIXTURES / "make_models.py")


@pytest.fixture(scope="session")
def fixture_models(make_models: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fixture model (valid, valence_arousal and the broken ones), name -> path."""
    pytest.importorskip("onnx", reason="the fixture models are built with the onnx package (test-time dependency)")
    return make_models.main(tmp_path_factory.mktemp("models"))


def find_data_root() -> Path:
    """``$EDGEEMO_DATA`` if set, else ``../shared/data`` beside the repository."""
    env = os.environ.get("EDGEEMO_DATA")
    root = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return root


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = find_data_root()
    if not (root / "ravdess" / "manifest.csv").is_file():
        pytest.fail(
            f"the shared data is missing: no {root / 'ravdess' / 'manifest.csv'}. "
            "Put the project's shared/ folder beside the repository or set EDGEEMO_DATA."
        )
    return root


@pytest.fixture(scope="session")
def ravdess_rows(data_root: Path) -> list[dict[str, str]]:
    with open(data_root / "ravdess" / "manifest.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def test_actor_clips(data_root: Path, ravdess_rows: list[dict[str, str]]) -> list[tuple[Path, str]]:
    """Two clips per label from the test actors (19-20), strong intensity: (path, label)."""
    picked: dict[str, list[tuple[Path, str]]] = {}
    for row in ravdess_rows:
        if row["split"] != "test":
            continue
        if row["intensity"] != "strong" and row["label"] != "neutral":
            continue
        bucket = picked.setdefault(row["label"], [])
        if len(bucket) < 2:
            bucket.append((data_root / "ravdess" / row["path"], row["label"]))
    return [item for label in sorted(picked) for item in picked[label]]
