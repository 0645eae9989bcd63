"""The committed dialogue fixtures are exactly what the fixture writer produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dialogue"


def test_committed_fixtures_match_the_writer() -> None:
    spec = importlib.util.spec_from_file_location("make_dialogue_fixtures", FIX / "make_fixtures.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.text_fixture_files()
    assert len(files) >= 16
    for rel, data in files.items():
        path = FIX / rel
        assert path.is_file(), f"missing fixture {rel}: run python {FIX / 'make_fixtures.py'}"
        assert path.read_bytes() == data, f"{rel} differs from make_fixtures.py output"
