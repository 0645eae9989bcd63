"""Option dataclasses of the training runs: one way in from JSON, one way out, one thread setting.

:func:`config_from_dict` builds any option dataclass from a JSON-like ``dict`` (lists become
tuples, nested option dicts their classes) and refuses unknown keys with one message,
``unknown <what>(s) [...]; known: [...]``; :class:`DictConfig` gives a dataclass ``from_dict`` /
``to_dict`` through it. :func:`set_torch_threads` applies a config's ``num_threads``; each
trainer calls it once, where its run starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar, TypeVar

from edgeemo.errors import ConfigError

__all__ = ["DictConfig", "check_known", "check_minimum", "config_from_dict", "config_to_dict", "set_torch_threads"]

T = TypeVar("T")
C = TypeVar("C", bound="DictConfig")


def check_known(cls: type, data: Mapping[str, Any], what: str, *, exclude: Iterable[str] = ()) -> None:
    """Raise :class:`ConfigError` naming the keys of ``data`` that are not fields of ``cls``."""
    known = {f.name for f in fields(cls)} - set(exclude)
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown {what}(s) {sorted(unknown)}; known: {sorted(known)}")


def check_minimum(cfg: Any, names: Iterable[str], minimum: float = 0, *, inclusive: bool = True) -> None:
    """Raise :class:`ConfigError` (``<name> must be >= <minimum>, got <value>``; ``>`` when not
    ``inclusive``) for the first field of ``cfg`` in ``names`` below the bound."""
    for name in names:
        value = getattr(cfg, name)
        if value < minimum or (not inclusive and value == minimum):
            raise ConfigError(f"{name} must be {'>=' if inclusive else '>'} {minimum:g}, got {value}")


def config_from_dict(cls: type[T], data: Mapping[str, Any], what: str,
                     *, nested: Mapping[str, type] | None = None) -> T:
    """``cls(**data)`` after :func:`check_known`, with lists as tuples and the dicts under the
    names in ``nested`` built into those classes (checked the same way)."""
    check_known(cls, data, what)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if nested and key in nested and isinstance(value, Mapping):
            value = config_from_dict(nested[key], value, f"{key} option")
        elif isinstance(value, list):
            value = tuple(value)
        values[key] = value
    return cls(**values)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass as plain JSON values (tuples as lists, nested dataclasses as dicts)."""
    return json.loads(json.dumps(asdict(cfg)))


class DictConfig:
    """Mixin for option dataclasses: ``from_dict`` (checked, see :func:`config_from_dict`) and
    ``to_dict`` (plain JSON values). ``_what`` names the options in errors; ``_nested`` maps
    field names to the option classes their dicts become."""

    _what: ClassVar[str] = "option"
    _nested: ClassVar[Mapping[str, type]] = {}

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        return config_from_dict(cls, data, cls._what, nested=cls._nested)

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)


def set_torch_threads(num_threads: int) -> None:
    """Use ``num_threads`` CPU threads for torch's operators in this process."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ConfigError(f"num_threads must be an integer >= 1, got {num_threads!r}")
    import torch

    torch.set_num_threads(num_threads)
