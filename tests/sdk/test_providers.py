"""Provider selection and precision rules, tested on CPU with fake `available` lists."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgeemo
from edgeemo.errors import ConfigError, ProviderError
from edgeemo.providers import check_precision, engine_cache_key, resolve_providers

TRT, CUDA, CPU = "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"
ALL = [TRT, CUDA, CPU]


def names(specs) -> list[str]:
    return [s[0] if isinstance(s, tuple) else s for s in specs]


def resolve(requested, available, precision=None, cache=None):
    return resolve_providers(
        requested, available, engine_cache_dir=cache, precision=precision,
        model_sha256="ab" * 32, trt_version="10.3.0", compute_capability="8.7",
    )


@pytest.mark.parametrize(
    "available, expected",
    [
        (ALL, [TRT, CUDA, CPU]),
        ([CUDA, CPU], [CUDA, CPU]),
        ([TRT, CPU], [TRT, CPU]),
        ([CPU], [CPU]),
        (["AzureExecutionProvider", CPU], [CPU]),
        ([], [CPU]),
    ],
)
def test_auto_order(available, expected) -> None:
    assert names(resolve("auto", available)) == expected


def test_explicit_providers() -> None:
    assert names(resolve("cpu", ALL)) == [CPU]
    assert names(resolve("cuda", ALL)) == [CUDA, CPU]
    assert names(resolve("tensorrt", ALL)) == [TRT, CUDA, CPU]
    assert names(resolve("CUDA", [CUDA, CPU])) == [CUDA, CPU]


@pytest.mark.parametrize("requested", ["cuda", "tensorrt"])
def test_missing_gpu_provider_names_the_extra(requested) -> None:
    with pytest.raises(ProviderError, match=r'pip install "edgeemo\[gpu\]"'):
        resolve(requested, [CPU])


def test_tensorrt_options(tmp_path: Path) -> None:
    specs = resolve("auto", ALL, cache=tmp_path)
    name, opts = specs[0]
    assert name == TRT
    assert opts["trt_engine_cache_enable"] is True
    assert opts["trt_fp16_enable"] is False
    assert Path(opts["trt_engine_cache_path"]) == tmp_path / "trt10.3.0-sm87-abababababab"
    _, opts16 = resolve("tensorrt", ALL, precision="fp16", cache=tmp_path)[0]
    assert opts16["trt_fp16_enable"] is True


def test_default_cache_dir(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _, opts = resolve("tensorrt", ALL)[0]
    assert opts["trt_engine_cache_path"].startswith(str(tmp_path / "edgeemo" / "trt"))


def test_engine_cache_key() -> None:
    assert engine_cache_key("10.3.0", "8.7", "0123456789abcdef") == "trt10.3.0-sm87-0123456789ab"
    assert engine_cache_key("unknown", "unknown", "") == "trtunknown-smunknown-unknown"
    assert "/" not in engine_cache_key("10/3", "8 7", "../x")


def test_fp16_never_silent() -> None:
    for requested, avail in [("cpu", ALL), ("cuda", ALL), ("auto", [CUDA, CPU]), ("auto", [CPU])]:
        with pytest.raises(ProviderError, match="fp16"):
            resolve(requested, avail, precision="fp16")


def test_unknown_provider() -> None:
    with pytest.raises(ConfigError, match="provider"):
        resolve("npu", ALL)


def test_check_precision() -> None:
    check_precision(None, None, CPU)
    check_precision("fp32", "fp32", CPU)
    check_precision("int8", "int8-qdq", CPU)
    check_precision("fp16", "fp32", TRT)
    with pytest.raises(ProviderError, match="int8-qdq"):
        check_precision("fp32", "int8-qdq", CPU)
    with pytest.raises(ProviderError, match="does not declare"):
        check_precision("int8", None, CPU)
    with pytest.raises(ProviderError, match="TensorRT"):
        check_precision("fp16", "fp32", CPU)
    with pytest.raises(ProviderError, match="quantized"):
        check_precision("fp16", "int8-qdq", TRT)


def test_recognizer_precision_and_provider(fixture_models) -> None:
    valid = fixture_models["valid"]  # quantization = fp32
    assert edgeemo.Recognizer(valid, precision="fp32").provider == CPU
    with pytest.raises(ProviderError, match="'int8'"):
        edgeemo.Recognizer(valid, precision="int8")
    with pytest.raises(ProviderError, match="fp16"):
        edgeemo.Recognizer(valid, precision="fp16")
    assert edgeemo.Recognizer(valid, provider="auto").provider in edgeemo.available_providers()
    if CUDA not in edgeemo.available_providers():
        with pytest.raises(ProviderError, match=r"edgeemo\[gpu\]"):
            edgeemo.Recognizer(valid, provider="cuda")


def test_available_providers() -> None:
    provs = edgeemo.available_providers()
    assert CPU in provs and all(isinstance(p, str) for p in provs)
