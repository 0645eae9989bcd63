"""docs/api.md cannot silently fall behind the code: every public name, method, option, result
field and error class must appear on it (in backticks)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

import edgeemo
from edgeemo import contract, errors, microphone


@pytest.fixture(scope="module")
def api_doc(repo_root: Path) -> str:
    return (repo_root / "docs" / "api.md").read_text(encoding="utf-8")


def _code_spans(text: str) -> list[str]:
    """The contents of fenced code blocks and of inline `code` spans (which may wrap lines)."""
    fences = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return fences + re.findall(r"`([^`]+)`", rest)


def _mentioned(name: str, text: str) -> bool:
    """``name`` as a whole word inside code (`Stream`, `accept(chunk, ...)`, `x.name`)."""
    word = re.compile(r"(?<![\w])" + re.escape(name) + r"(?![\w])")
    return any(word.search(span) for span in _code_spans(text))


def _public_members(cls: type) -> list[str]:
    return [n for n, _ in inspect.getmembers(cls) if not n.startswith("_")]


def _missing(names: list[str], text: str) -> list[str]:
    return sorted(n for n in set(names) if not _mentioned(n, text))


def test_every_public_name_is_documented(api_doc: str) -> None:
    assert _missing(list(edgeemo.__all__), api_doc) == []


def test_every_recognizer_and_stream_member_is_documented(api_doc: str) -> None:
    rec_attrs = ["options"]  # instance attributes inspect cannot see on the class
    stream_attrs = ["options", "recognizer", "hop_samples"]
    assert _missing(_public_members(edgeemo.Recognizer) + rec_attrs, api_doc) == []
    assert _missing(_public_members(edgeemo.Stream) + stream_attrs, api_doc) == []


@pytest.mark.parametrize(
    "cls",
    [edgeemo.RecognizerOptions, edgeemo.StreamOptions, edgeemo.EmotionResult, edgeemo.WindowScores,
     edgeemo.Timing, edgeemo.ModelInfo, microphone.ListenSnapshot, microphone.InputDevice],
)
def test_every_dataclass_field_and_method_is_documented(api_doc: str, cls: type) -> None:
    fields = [f.name for f in dataclasses.fields(cls)]
    assert _missing(fields + _public_members(cls), api_doc) == [], cls.__name__


def test_listen_stats_and_listen_arguments_are_documented(api_doc: str) -> None:
    stats = [n for n in _public_members(microphone.ListenStats)]
    params = [*inspect.signature(microphone.listen).parameters, *inspect.signature(microphone.stream_file).parameters]
    accept = list(inspect.signature(edgeemo.Stream.accept).parameters)[1:]
    assert _missing(stats + params + accept, api_doc) == []


def test_every_error_class_is_documented_with_when(api_doc: str) -> None:
    table = {m.group(1) for m in re.finditer(r"^\| `(\w+)` \| `?\w+`? \| .+\|$", api_doc, re.MULTILINE)}
    assert sorted(set(errors.__all__) - table) == []
    assert _mentioned("cli_message", api_doc) and _mentioned("detail", api_doc)


def test_contract_is_introduced(api_doc: str) -> None:
    for name in ("parse_metadata", "check_graph", "build_metadata", "clip_window_starts",
                 "stream_window_starts", "takes_partial_window", "REQUIRED_KEYS"):
        assert hasattr(contract, name) and _mentioned(name, api_doc), name


def test_the_doc_checker_does_check() -> None:
    assert _mentioned("accept", "use `accept(chunk)` here")
    assert not _mentioned("accept", "use accept here, `acceptable` there")
    assert not _mentioned("here", "`a` and here and `b`")  # text between two spans is not code
    assert _missing(["no_such_name"], "`other`") == ["no_such_name"]
