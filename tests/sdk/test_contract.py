"""The model contract module (edgeemo.contract): write -> read round trip, every validation error,
the window rule, and that the metadata keys are spelled in that one module only."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from edgeemo import contract
from edgeemo.contract import (
    FRONTEND_NODE_PREFIX,
    REQUIRED_KEYS,
    ModelMetadata,
    build_metadata,
    check_graph,
    clip_window_starts,
    parse_metadata,
    stream_window_starts,
    takes_partial_window,
)
from edgeemo.errors import ModelMetadataError

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("neutral", "happy", "sad", "angry")

MODEL_CFG = {
    "labels": list(LABELS),
    "window_samples": 48000,
    "hop_samples": 8000,
    "min_samples": 8000,
    "valence_arousal": True,
    "frontend": {
        "sample_rate": 16000, "n_fft": 400, "hop_length": 160, "n_mels": 64, "f_min": 50.0,
        "f_max": 8000.0,
    },
}


def good_meta(**changes: str) -> dict[str, str]:
    """Valid metadata, with ``changes`` given by KEY_<NAME> (e.g. ``SAMPLE_RATE="x"``)."""
    meta = build_metadata(MODEL_CFG, model_name="m", model_version="0.1.0", training_data="d")
    for name, value in changes.items():
        meta[getattr(contract, f"KEY_{name}")] = value
    return meta


# -- writing and reading ---------------------------------------------------------------------
def test_build_then_parse_round_trip() -> None:
    meta = build_metadata(
        MODEL_CFG, model_name="edgeemo-student", model_version="1.2.3", training_data="RAVDESS",
        quantization="int8-qdq", metrics={"test_ua": 0.5, "test_wa": 0.62346},
        extra={"note": "x"},
    )
    assert set(REQUIRED_KEYS) <= set(meta)
    assert all(isinstance(v, str) for v in meta.values())
    assert meta[contract.KEY_FRONTEND_NODE_PREFIX] == FRONTEND_NODE_PREFIX
    assert meta[contract.KEY_METRICS] == "test_ua=0.5000,test_wa=0.6235"
    assert meta[contract.KEY_FRONTEND] == "logmel n_fft=400 hop=160 n_mels=64 fmin=50 fmax=8000 conv-stft"
    assert meta["note"] == "x"
    parsed = parse_metadata(meta, "m.onnx")
    assert parsed == ModelMetadata(
        format_version=contract.FORMAT_VERSION,
        labels=LABELS,
        sample_rate=16000,
        window_samples=48000,
        hop_samples=8000,
        min_samples=8000,
        heads=(contract.HEAD_CATEGORIES, contract.HEAD_VALENCE_AROUSAL),
        model_name="edgeemo-student",
        model_version="1.2.3",
        training_data="RAVDESS",
        license=contract.NONCOMMERCIAL_LICENSE,
        frontend=meta[contract.KEY_FRONTEND],
        quantization="int8-qdq",
        metrics="test_ua=0.5000,test_wa=0.6235",
    )
    assert contract.parse_labels(meta) == LABELS
    assert contract.frontend_node_prefix(meta) == FRONTEND_NODE_PREFIX
    assert contract.output_names(parsed.heads) == [contract.OUTPUT_PROBS, contract.OUTPUT_VALENCE_AROUSAL]


def test_defaults_and_lenient_helpers() -> None:
    cfg = dict(MODEL_CFG, valence_arousal=False)
    meta = build_metadata(cfg, model_name="m", model_version="1", training_data="d")
    assert meta[contract.KEY_HEADS] == contract.HEAD_CATEGORIES
    assert meta[contract.KEY_QUANTIZATION] == "fp32" and contract.KEY_METRICS not in meta
    assert meta[contract.KEY_LICENSE] == contract.NONCOMMERCIAL_LICENSE
    assert contract.output_names(parse_metadata(meta, "m").heads) == [contract.OUTPUT_PROBS]
    assert contract.parse_labels({}) == ()
    assert contract.parse_labels({contract.KEY_LABELS: " a, b ,,c "}) == ("a", "b", "c")
    assert contract.frontend_node_prefix({}) == FRONTEND_NODE_PREFIX
    assert contract.frontend_node_prefix({contract.KEY_FRONTEND_NODE_PREFIX: "fe."}) == "fe."
    assert dict(contract.HEAD_OUTPUTS) == {"categories": "probs", "valence_arousal": "valence_arousal"}
    with pytest.raises(TypeError):
        contract.HEAD_OUTPUTS["x"] = "y"  # type: ignore[index]


def test_export_metadata_is_the_contract() -> None:
    """edgeemo.export.metadata keeps its names, but they are the contract's (no second copy)."""
    pytest.importorskip("onnx")
    from edgeemo.export import metadata

    assert metadata.student_metadata is build_metadata
    assert metadata.REQUIRED_KEYS is REQUIRED_KEYS
    assert metadata.FRONTEND_NODE_PREFIX is FRONTEND_NODE_PREFIX


# -- every validation error ------------------------------------------------------------------
BAD = [
    # (metadata, substrings of the message)
    ({}, ["model m.onnx:", "no edgeemo metadata", "edgeemo export"]),
    (good_meta(FORMAT="x"), ["'edgeemo_format' must be a version like '1', not 'x'", "edgeemo export"]),
    (good_meta(FORMAT="2.0"), ["'edgeemo_format' is '2.0'", "reads format 1.x", "pip install -U edgeemo"]),
    (good_meta(SAMPLE_RATE="16k"), ["'sample_rate' must be an integer, not '16k'"]),
    (good_meta(SAMPLE_RATE="100"), ["'sample_rate' = 100 is out of range [8000, 192000]"]),
    (good_meta(WINDOW_SAMPLES="0"), ["'window_samples' = 0 is out of range"]),
    (good_meta(HOP_SAMPLES="48001"), ["'hop_samples' = 48001 is out of range [1, 48000]"]),
    (good_meta(MIN_SAMPLES="48001"), ["'min_samples' = 48001 is out of range [1, 48000]"]),
    (good_meta(HEADS="valence_arousal"), ["'heads' must include 'categories'"]),
    (good_meta(HEADS="categories,"), ["'heads' must be a comma-separated list"]),
    (good_meta(LABELS="a,,b"), ["'labels' must be a comma-separated list, not 'a,,b'"]),
    (good_meta(LABELS="a,b,a"), ["'labels' has duplicate entries: 'a,b,a'"]),
]


@pytest.mark.parametrize("meta,parts", BAD, ids=[p[0] for _, p in BAD])
def test_bad_metadata_is_refused(meta: dict[str, str], parts: list[str]) -> None:
    with pytest.raises(ModelMetadataError) as info:
        parse_metadata(meta, "m.onnx")
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {info.value}"


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_each_missing_required_key_is_named(key: str) -> None:
    meta = good_meta()
    del meta[key]
    with pytest.raises(ModelMetadataError, match=f"required metadata key\\(s\\) missing: '{key}'"):
        parse_metadata(meta, "m.onnx")


def _t(shape: list[object], type_: str = "tensor(float)") -> SimpleNamespace:
    return SimpleNamespace(type=type_, shape=shape)


def _graph(**over: object) -> tuple[dict[str, object], dict[str, object]]:
    inputs: dict[str, object] = {contract.INPUT_NAME: _t(["batch", 48000])}
    outputs: dict[str, object] = {
        contract.OUTPUT_PROBS: _t(["batch", len(LABELS)]),
        contract.OUTPUT_VALENCE_AROUSAL: _t(["batch", 2]),
    }
    for name, value in over.items():
        target = inputs if name == contract.INPUT_NAME else outputs
        if value is None:
            target.pop(name)
        else:
            target[name] = value
    return inputs, outputs


def test_graph_matches_metadata() -> None:
    check_graph(parse_metadata(good_meta(), "m.onnx"), *_graph(), "m.onnx")


GRAPH_BAD = [
    ({"audio": None}, ["no input named 'audio'"]),
    ({"audio": _t(["batch", 48000], "tensor(int16)")}, ["input 'audio' must be float32 [batch, window_samples]"]),
    ({"audio": _t(["batch", "n"])}, ["input 'audio' must have a fixed width (window_samples), not 'n'"]),
    ({"audio": _t(["batch", 16000])}, ["'window_samples' = 48000 but the 'audio' input is 16000 samples wide"]),
    ({"valence_arousal": None}, ["'heads' lists 'valence_arousal' but the graph has no output 'valence_arousal'"]),
    ({"probs": _t(["batch", 7])}, ["'labels' lists 4 labels but output 'probs' is 7 wide"]),
    ({"valence_arousal": _t(["batch", 3])}, ["output 'valence_arousal' must be 2 wide, not 3"]),
]


@pytest.mark.parametrize("over,parts", GRAPH_BAD, ids=[p[0] for _, p in GRAPH_BAD])
def test_graph_mismatch_is_refused(over: dict[str, object], parts: list[str]) -> None:
    with pytest.raises(ModelMetadataError) as info:
        check_graph(parse_metadata(good_meta(), "m.onnx"), *_graph(**over), "m.onnx")
    for part in parts + ["model m.onnx:", "edgeemo export"]:
        assert part in str(info.value), f"{part!r} not in {info.value}"


# -- the window rule -------------------------------------------------------------------------
def test_window_rule() -> None:
    assert clip_window_starts(8000, 16000, 4000) == [0]
    assert clip_window_starts(25000, 16000, 4000) == [0, 4000, 8000, 9000]
    assert stream_window_starts(0, 15999, 16000, 4000) == []
    assert stream_window_starts(0, 24000, 16000, 4000) == [0, 4000, 8000]
    assert stream_window_starts(8000, 28000, 16000, 4000) == [8000, 12000]
    # where the clip ends on a hop, whole-clip and stream windows coincide
    for n in (16000, 20000, 48000):
        assert clip_window_starts(n, 16000, 4000) == stream_window_starts(0, n, 16000, 4000)
    assert takes_partial_window(8000, 8000) and not takes_partial_window(7999, 8000)
    assert not takes_partial_window(0, 0)


# -- one house for the key strings -----------------------------------------------------------
CONTRACT_FILE = ROOT / "sdk" / "contract.py"
SCANNED = ("sdk", "train", "export")
ALL_KEYS = frozenset(REQUIRED_KEYS) | frozenset(contract.INFORMATIVE_KEYS)
# Keys that mean nothing but model metadata: their string literal may appear in contract.py only.
# ("labels", "heads", "license", "frontend", "metrics", "sample_rate", ... are also ordinary config
# fields, CLI parameters and array names; for them only metadata-shaped uses are flagged below.)
DISTINCTIVE = frozenset({
    contract.KEY_FORMAT, contract.KEY_WINDOW_SAMPLES, contract.KEY_HOP_SAMPLES,
    contract.KEY_MIN_SAMPLES, contract.KEY_TRAINING_DATA, contract.KEY_FRONTEND_NODE_PREFIX,
    contract.KEY_INT8_FLOAT_NODES,
})
# Uses of those spellings that are not metadata: (file, key) -> why.
NOT_METADATA = {
    ("sdk/cli/info_cmd.py", contract.KEY_WINDOW_SAMPLES): "`edgeemo info --json` output field",
    ("sdk/cli/info_cmd.py", contract.KEY_HOP_SAMPLES): "`edgeemo info --json` output field",
    ("sdk/cli/info_cmd.py", contract.KEY_MIN_SAMPLES): "`edgeemo info --json` output field",
}
_META_NAME = re.compile(r"meta", re.IGNORECASE)


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name_of(node.func)
    return ""


def key_literals(source: str) -> list[tuple[str, int]]:
    """(key, line) for each metadata key spelled as a string literal in ``source``: a
    DISTINCTIVE key anywhere; any key used as ``<...meta...>[key]``, ``<...meta...>.get(key)``
    or as a dict key in a call to ``<...meta...>(...)``."""
    found: list[tuple[str, int]] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in DISTINCTIVE:
            found.append((node.value, node.lineno))
        elif isinstance(node, ast.Subscript) and _META_NAME.search(_name_of(node.value)):
            key = node.slice
            if isinstance(key, ast.Constant) and key.value in ALL_KEYS - DISTINCTIVE:
                found.append((key.value, key.lineno))
        elif isinstance(node, ast.Call):
            func = node.func
            target = func.value if isinstance(func, ast.Attribute) and func.attr == "get" else None
            if target is not None and _META_NAME.search(_name_of(target)) and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and arg.value in ALL_KEYS - DISTINCTIVE:
                    found.append((arg.value, arg.lineno))
            if _META_NAME.search(_name_of(func)):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    if isinstance(arg, ast.Dict):
                        for k in arg.keys:
                            if isinstance(k, ast.Constant) and k.value in ALL_KEYS - DISTINCTIVE:
                                found.append((k.value, k.lineno))
    return found


def test_the_key_scan_can_fail() -> None:
    source = (
        'a = {"window_samples": 1}\n'
        'b = metadata.get("sample_rate", "16000")\n'
        'c = self.onnx_metadata["labels"]\n'
        'set_metadata(proto, {"metrics": "x"})\n'
        'meta["quantization"] = "int8"\n'
        'd = config["labels"]\n'  # not metadata: allowed
        'e = f"metadata key \'window_samples\'"\n'  # text in a message: allowed
        'g = contract.KEY_WINDOW_SAMPLES\n'
    )
    assert sorted(key_literals(source)) == [
        ("labels", 3), ("metrics", 4), ("quantization", 5), ("sample_rate", 2), ("window_samples", 1),
    ]


def test_contract_defines_every_key() -> None:
    defined = {k for k, _ in key_literals(CONTRACT_FILE.read_text())}
    assert DISTINCTIVE <= defined
    assert {getattr(contract, n) for n in dir(contract) if n.startswith("KEY_")} == ALL_KEYS


def test_metadata_keys_are_spelled_only_in_the_contract() -> None:
    offences = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == CONTRACT_FILE:
                continue
            rel = path.relative_to(ROOT).as_posix()
            for key, line in key_literals(path.read_text()):
                if (rel, key) not in NOT_METADATA:
                    offences.append(f"{rel}:{line}: {key!r}")
    assert not offences, (
        "metadata keys spelled outside sdk/contract.py; use edgeemo.contract.KEY_* (or its "
        "helpers) instead:\n" + "\n".join(offences)
    )
