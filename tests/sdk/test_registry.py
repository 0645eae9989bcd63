"""Bundled models by name (edgeemo.registry): ``Recognizer("tiny")``, ``Recognizer("small")``, the
default, unknown names, missing files, and paths that merely look like names."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

import edgeemo
from edgeemo import model as model_module
from edgeemo import registry
from edgeemo.errors import ModelNotFoundError

TINY_FILE = "edgeemo-tiny-ravdess.onnx"
SMALL_FILE = "edgeemo-small-ravdess-int8.onnx"


@pytest.fixture(scope="module")
def tiny_path() -> Path:
    path = registry.bundled_model_path("tiny")
    assert path.is_file(), "the tiny model must ship with the package"
    return path


@pytest.fixture
def models_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_path: Path) -> Path:
    """A models folder with tiny and, under the small file's name, a copy of tiny: the
    "small is installed" state, whether or not the real small file exists yet."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(tiny_path, folder / TINY_FILE)
    shutil.copyfile(tiny_path, folder / SMALL_FILE)
    monkeypatch.setattr(registry, "models_dir", lambda: folder)
    return folder


def test_the_table() -> None:
    assert list(registry.BUNDLED_MODELS) == ["tiny", "small"]
    assert registry.DEFAULT_MODEL in registry.BUNDLED_MODELS
    tiny, small = registry.BUNDLED_MODELS["tiny"], registry.BUNDLED_MODELS["small"]
    assert (tiny.file_name, tiny.card) == (TINY_FILE, "MODEL_CARD_tiny.md")
    assert (small.file_name, small.card) == (SMALL_FILE, "MODEL_CARD_small.md")
    for name, entry in registry.BUNDLED_MODELS.items():
        assert entry.name == name and registry.is_model_name(name)
        assert entry.description and "\n" not in entry.description
        assert entry.path == registry.models_dir() / entry.file_name
        assert entry.card_path.parent == registry.models_dir()
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny.name = "big"  # type: ignore[misc]
    with pytest.raises(TypeError):
        registry.BUNDLED_MODELS["big"] = tiny  # type: ignore[index]
    # the tiny card really is there; its model is the one the package has always shipped
    assert tiny.card_path.is_file()
    assert registry.models_dir() == edgeemo.default_model_path().parent


def test_names_and_paths_are_told_apart_by_their_text() -> None:
    for name in ("tiny", "small", "huge", "Tiny", ""):
        assert registry.is_model_name(name), name
    for path in ("tiny.onnx", "./tiny", "models/small", "a\\tiny", "/abs/tiny", "x.engine",
                 Path("tiny"), Path("small"), None, 3):
        assert not registry.is_model_name(path), path


def test_tiny_by_name_is_the_default_file(tiny_path: Path) -> None:
    rec = edgeemo.Recognizer("tiny")
    assert rec.info.path == tiny_path and rec.info.path.name == TINY_FILE
    assert edgeemo.default_model_path() == registry.bundled_model_path(registry.DEFAULT_MODEL)
    assert edgeemo.default_model_path() == registry.bundled_model_path()  # None = the default
    default = edgeemo.Recognizer()
    assert default.info.path == registry.bundled_model_path(registry.DEFAULT_MODEL)
    if registry.DEFAULT_MODEL == "tiny":
        assert default.info.path == rec.info.path and default.info.sha256 == rec.info.sha256
        assert model_module.DEFAULT_MODEL_NAME == TINY_FILE


def test_everything_follows_the_default_name(models_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Switching DEFAULT_MODEL (the lead's one-line change) moves Recognizer() and
    default_model_path() with it."""
    monkeypatch.setattr(registry, "DEFAULT_MODEL", "small")
    assert edgeemo.default_model_path() == models_folder / SMALL_FILE
    assert edgeemo.Recognizer().info.path == models_folder / SMALL_FILE
    monkeypatch.setattr(registry, "DEFAULT_MODEL", "tiny")
    assert edgeemo.Recognizer().info.path == models_folder / TINY_FILE


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        edgeemo.Recognizer("huge")
    err = info.value
    assert isinstance(err, FileNotFoundError)
    msg = str(err)
    assert "unknown model name 'huge'" in msg and "tiny, small" in msg and ".onnx" in msg
    assert err.cli_message and "--model NAME" in err.cli_message and "--model PATH" in err.cli_message
    assert "tiny, small" in err.cli_message
    with pytest.raises(ModelNotFoundError, match="unknown model name"):
        registry.bundled_model_path("huge")
    with pytest.raises(ModelNotFoundError, match="unknown model name"):
        registry.resolve_model_name("Tiny")  # names are exact


def test_known_name_whose_file_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    monkeypatch.setattr(registry, "models_dir", lambda: empty)
    assert registry.installed_models() == ()
    # the path is still returned (like default_model_path), loading it says what to do
    assert registry.bundled_model_path("tiny") == empty / TINY_FILE
    with pytest.raises(ModelNotFoundError) as info:
        edgeemo.Recognizer("tiny")
    msg = str(info.value)
    assert TINY_FILE in msg and "'tiny' is not in this installation" in msg and "reinstall" in msg
    assert "bundled default" not in msg
    assert "--model" in (info.value.cli_message or "") and "reinstall" in (info.value.cli_message or "")
    with pytest.raises(ModelNotFoundError, match=f"bundled default model '{registry.DEFAULT_MODEL}'") as info:
        edgeemo.Recognizer()
    assert "reinstall" in str(info.value) and "edgeemo export" in str(info.value)


def test_small_as_this_installation_has_it() -> None:
    """Before the small model is built it is 'not installed'; afterwards it loads by name."""
    small = registry.BUNDLED_MODELS["small"]
    names = [m.name for m in registry.installed_models()]
    assert "tiny" in names
    if small.path.is_file():
        assert "small" in names and small.is_installed
        assert edgeemo.Recognizer("small").info.path == small.path
    else:
        assert "small" not in names and not small.is_installed
        with pytest.raises(ModelNotFoundError) as info:
            edgeemo.Recognizer("small")
        assert SMALL_FILE in str(info.value) and "reinstall" in str(info.value)
        assert "installed: tiny" in str(info.value)


def test_small_when_installed(models_folder: Path) -> None:
    assert [m.name for m in registry.installed_models()] == ["tiny", "small"]
    assert registry.resolve_model_name("small") == models_folder / SMALL_FILE
    rec = edgeemo.Recognizer("small")
    assert rec.info.path == models_folder / SMALL_FILE
    (models_folder / TINY_FILE).unlink()
    assert [m.name for m in registry.installed_models()] == ["small"]
    with pytest.raises(ModelNotFoundError, match="installed: small"):
        edgeemo.Recognizer("tiny")


def test_a_path_that_looks_like_a_name_is_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("tiny", "small", "small.onnx"):
        shutil.copyfile(tiny_path, elsewhere / name)
    monkeypatch.chdir(elsewhere)
    # a path object, a str with a separator, or a suffix: the file given, never the bundled one
    assert edgeemo.Recognizer(Path("small")).info.path == Path("small")
    assert edgeemo.Recognizer("./small").info.path == Path("small")
    assert edgeemo.Recognizer("small.onnx").info.path == Path("small.onnx")
    assert edgeemo.Recognizer(str(elsewhere / "tiny")).info.path == elsewhere / "tiny"
    # a bare name is the registry's, even with a file of that name in the working folder
    assert edgeemo.Recognizer("tiny").info.path == tiny_path
    # a path that looks like a name but is missing is a missing file, not an unknown name
    with pytest.raises(ModelNotFoundError, match="model file not found") as info:
        edgeemo.Recognizer(os.path.join("models", "tiny"))
    assert "unknown model name" not in str(info.value)
    with pytest.raises(ModelNotFoundError, match="model file not found"):
        edgeemo.Recognizer("huge.onnx")
