"""The bundled models, by name: ``Recognizer("small")``, ``edgeemo listen --model tiny``.

Standard library only (``import edgeemo`` stays light). One table, :data:`BUNDLED_MODELS`, says
which models ship inside the package (``edgeemo/models/``) and :data:`DEFAULT_MODEL` which of them
``Recognizer()`` loads. Everything else (:func:`edgeemo.default_model_path`, ``edgeemo info``,
the CLI's ``--model``) follows these two.

How a ``model`` argument is read (:func:`is_model_name`, :func:`resolve_model_name`):

* ``None``: the default model, :data:`DEFAULT_MODEL`;
* a ``str`` with no path separator (``/`` or ``\\``) and no ``.`` is a **name**: one of
  :data:`BUNDLED_MODELS`, else :class:`~edgeemo.errors.ModelNotFoundError` listing the names. A
  name never means a file of that name in the working folder (pass ``./tiny`` for that);
* anything else (a ``str`` with a separator or a suffix such as ``.onnx``, any ``os.PathLike``) is a
  **path**, even when its text is a registered name (``Path("tiny")``, ``models/small.onnx``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TypeGuard

from .errors import ModelNotFoundError

__all__ = [
    "BundledModel",
    "BUNDLED_MODELS",
    "DEFAULT_MODEL",
    "models_dir",
    "bundled_model",
    "bundled_model_path",
    "installed_models",
    "is_model_name",
    "resolve_model_name",
    "missing_model_error",
]


@dataclass(frozen=True)
class BundledModel:
    """One model that ships with edgeemo.

    Attributes:
        name: what users pass (``Recognizer("tiny")``, ``--model tiny``).
        file_name: the ``.onnx`` file in ``edgeemo/models/``.
        card: its model card (Markdown) in the same folder.
        description: one line for ``edgeemo info --models``.
    """

    name: str
    file_name: str
    card: str
    description: str

    @property
    def path(self) -> Path:
        """Where the file is (or would be) in this installation."""
        return models_dir() / self.file_name

    @property
    def card_path(self) -> Path:
        """Where the model card is (or would be) in this installation."""
        return models_dir() / self.card

    @property
    def is_installed(self) -> bool:
        """Whether the model file is present."""
        return self.path.is_file()


BUNDLED_MODELS: Mapping[str, BundledModel] = MappingProxyType({
    m.name: m
    for m in (
        BundledModel(
            name="tiny",
            file_name="edgeemo-tiny-ravdess.onnx",
            card="MODEL_CARD_tiny.md",
            description=("streamable log-mel CNN student (96 K parameters), float32, with a stream graph: "
                         "the smallest and cheapest to stream"),
        ),
        BundledModel(
            name="small",
            file_name="edgeemo-small-ravdess-int8.onnx",
            card="MODEL_CARD_small.md",
            description="truncated Whisper-tiny encoder student, INT8: larger, for higher accuracy",
        ),
    )
})
"""The bundled models, name -> :class:`BundledModel`, smallest first."""

DEFAULT_MODEL = "small"
"""The name ``Recognizer()`` / ``Recognizer(None)`` and the CLI without ``--model`` load."""

_SEPARATORS = frozenset({"/", "\\", os.sep, os.altsep or "/"})


def models_dir() -> Path:
    """The folder of the bundled models (``edgeemo/models/`` inside the installed package)."""
    return Path(str(resources.files("edgeemo").joinpath("models")))


def _known() -> str:
    return ", ".join(BUNDLED_MODELS)


def is_model_name(model: object) -> TypeGuard[str]:
    """Whether ``model`` is read as a bundled model's name rather than a path: a ``str`` with no
    path separator and no ``.`` (see the module docstring). Unknown names count too."""
    return isinstance(model, str) and "." not in model and not (_SEPARATORS & set(model))


def bundled_model(name: str | None = None) -> BundledModel:
    """The registry entry of ``name`` (``None``: :data:`DEFAULT_MODEL`); an unknown name raises
    :class:`ModelNotFoundError` listing the known names."""
    key = DEFAULT_MODEL if name is None else name
    try:
        return BUNDLED_MODELS[key]
    except (KeyError, TypeError):
        pass
    raise ModelNotFoundError(
        f"unknown model name {key!r}: the bundled models are {_known()}. To load a model file, "
        "pass the path of an existing .onnx file (a path contains a '/' or a '.', e.g. "
        f"'./{key}.onnx')",
        cli_message=f"unknown model name {key!r}: pass --model NAME with one of {_known()}, or "
        "--model PATH of an existing .onnx file (a path contains a '/' or a '.', e.g. "
        f"./{key}.onnx)",
    ) from None


def bundled_model_path(name: str | None = None) -> Path:
    """The path of the bundled model ``name`` (``None``: the default), returned even when the file
    is absent; an unknown name raises :class:`ModelNotFoundError`."""
    return bundled_model(name).path


def installed_models() -> tuple[BundledModel, ...]:
    """The bundled models whose file is present in this installation, in table order."""
    return tuple(m for m in BUNDLED_MODELS.values() if m.is_installed)


def missing_model_error(name: str | None = None, path: Path | None = None) -> ModelNotFoundError:
    """The :class:`ModelNotFoundError` for a known bundled model whose file is absent: names the
    file, says to reinstall edgeemo, and lists the bundled models that are installed. ``name``
    ``None`` speaks of the default model; ``path`` defaults to the entry's :attr:`~BundledModel.path`."""
    entry = bundled_model(name)
    path = entry.path if path is None else path
    which = f"the bundled {'default ' if name is None else ''}model {entry.name!r}"
    present = ", ".join(m.name for m in installed_models() if m.name != entry.name)
    others = f"installed: {present}" if present else "no other bundled model is installed"
    reinstall = 'reinstall edgeemo (pip install --force-reinstall "edgeemo[cpu]")'
    return ModelNotFoundError(
        f"{which} is not in this installation (expected {path}). To get it, {reinstall}; or choose "
        f"another bundled model ({others}), or pass a model file: "
        "edgeemo.Recognizer('path/to/model.onnx'), or export one with `edgeemo export`",
        cli_message=f"{which} is not in this installation (expected {path}): {reinstall}, choose "
        f"another with --model NAME ({others}), or pass --model PATH of an edgeemo .onnx model, or "
        "export one with `edgeemo export`",
    )


def resolve_model_name(name: str | None = None) -> Path:
    """The file of the bundled model ``name`` (``None``: :data:`DEFAULT_MODEL`), which must exist.

    Raises :class:`ModelNotFoundError` for an unknown name (listing the known ones) and for a
    known name whose file is not in this installation (:func:`missing_model_error`).
    """
    path = bundled_model(name).path
    if not path.is_file():
        raise missing_model_error(name, path)
    return path
