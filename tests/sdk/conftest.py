"""Fixtures for the SDK tests: recognizers on the tiny contract models (tests/conftest.py) and real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
