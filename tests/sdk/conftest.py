"""Fixtures for the SDK tests: tiny contract models (tests/fixtures/make_models.py) and real clips."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load_make_models() -> ModuleType:
    name = "edgeemo_test_make_models"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FIXTURES / "make_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_models() -> ModuleType:
    """The tests/fixtures/make_models.py module."""
    return _load_make_models()


@pytest.fixture(scope="session")
def fixture_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fixture model (valid, valence_arousal and the broken ones), name -> path."""
    pytest.importorskip("onnx", reason="the fixture models are built with the onnx package (test-time dependency)")
    return _load_make_models().main(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def recognizer(fixture_models: dict[str, Path]):
    import edgeemo

    return edgeemo.Recognizer(fixture_models["valid"])


@pytest.fixture(scope="session")
def va_recognizer(fixture_models: dict[str, Path]):
    import edgeemo

    return edgeemo.Recognizer(fixture_models["valence_arousal"])


@pytest.fixture(scope="session")
def real_clips(test_actor_clips: list[tuple[Path, str]]) -> list[tuple[np.ndarray, int, str]]:
    """Four real RAVDESS test-actor clips as (float32 mono, sample_rate, label)."""
    import edgeemo

    out = []
    for path, label in test_actor_clips[::4][:4]:
        wave, sr = edgeemo.load_audio(path)
        out.append((wave, sr, label))
    assert out, "no RAVDESS test-actor clips found"
    return out


@pytest.fixture(scope="session")
def clip(real_clips: list[tuple[np.ndarray, int, str]]) -> tuple[np.ndarray, int]:
    """One real clip: (float32 mono, sample_rate)."""
    wave, sr, _ = real_clips[0]
    return wave, sr
