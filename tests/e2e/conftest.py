"""End-to-end fixtures: the model under test, fixture models, and the PulseAudio virtual microphone."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_pulse() -> ModuleType:
    """tests/e2e/pulse.py (helpers for the private PulseAudio server)."""
    return _load("edgeemo_test_pulse", HERE / "pulse.py")


@pytest.fixture(scope="session")
def pulse() -> ModuleType:
    """The tests/e2e/pulse.py module."""
    return load_pulse()


@pytest.fixture(scope="session")
def fixture_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every tiny contract model from tests/fixtures/make_models.py, name -> path."""
    pytest.importorskip("onnx", reason="the fixture models are built with the onnx package (test-time dependency)")
    make_models = _load("edgeemo_test_make_models", FIXTURES / "make_models.py")
    return make_models.main(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def model_path(fixture_models: dict[str, Path]) -> Path:
    """The model the end-to-end tests run: the bundled model when it is present, else the fixture.

    Tests that assert on labels check first that this is the bundled model: the fixture's labels
    are meaningless (a random projection of frame energies).
    """
    import edgeemo

    bundled = edgeemo.default_model_path()
    return bundled if bundled.is_file() else fixture_models["valid"]


@pytest.fixture(scope="session")
def virtual_mic(pulse: ModuleType) -> Iterator[object]:
    """A private PulseAudio server (16 kHz mono null sink ``vsink``, default source ``vmic``).

    ``PULSE_SERVER`` is set for this process while the session runs; subprocesses get it through
    ``virtual_mic.env``. Skips with the reason only where PulseAudio cannot start.
    """
    yield from pulse.virtual_mic_session(None)
