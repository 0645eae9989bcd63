"""End-to-end fixtures: the model under test, fixture models, and the PulseAudio virtual microphone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def pulse(test_module_loader) -> ModuleType:  # type: ignore[no-untyped-def]
    """The tests/e2e/pulse.py module (helpers for the private PulseAudio server)."""
    return test_module_loader("edgeemo_test_pulse", HERE / "pulse.py")


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
