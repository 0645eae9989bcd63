"""Streamable students and their stream graphs: every frame and trunk column computed once, the
same scores as the window model (torch, ONNX and the SDK's incremental stream), on real speech."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from edgeemo import Recognizer  # noqa: E402
from edgeemo.errors import ConfigError, ModelMetadataError  # noqa: E402
from edgeemo.train.data import RAVDESS_LABELS, load_ravdess, read_audio  # noqa: E402
from edgeemo.train.frontend import FrontendConfig  # noqa: E402
from edgeemo.train.models.student import (  # noqa: E402
    LEVEL_INVARIANT_LOG_FLOOR,
    StudentConfig,
    StudentNet,
)

STREAMABLE = dict(normalization="local_max", time_padding="valid", time_pools=(5, 2, 1), freq_bins=8,
                  embedding_dim=48, frontend=FrontendConfig(log_floor=LEVEL_INVARIANT_LOG_FLOOR))


def _streamable_student(seed: int = 0) -> StudentNet:
    """A streamable student with random weights *and* random batch-norm statistics (eval mode)."""
    torch.manual_seed(seed)
    model = StudentNet(StudentConfig(labels=RAVDESS_LABELS, **STREAMABLE))
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.fixture(scope="module")
def speech(data_root: Path) -> np.ndarray:
    """About 11 s of real speech: four RAVDESS clips of two actors back to back (16 kHz)."""
    utts = [u for u in load_ravdess(data_root) if u.speaker in ("ravdess_19", "ravdess_20")][:4]
    return np.concatenate([read_audio(u.path) for u in utts]).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A streamable student's checkpoint, float32 window model and stream graph."""
    from edgeemo.export.onnx_export import export_student
    from edgeemo.export.stream_graph import export_stream_graph
    from edgeemo.train.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("streamable")
    model = _streamable_student()
    ckpt = save_checkpoint(folder / "ckpt", config={"kind": "student", "model": model.cfg.to_dict()},
                           weights=model.state_dict())
    window = export_student(ckpt, folder / "student.onnx").path
    stream = export_stream_graph(model, window)
    return {"checkpoint": ckpt, "window": window, "stream": stream}


def test_config_checks_the_streamable_options() -> None:
    with pytest.raises(ConfigError, match="time_pools"):
        StudentConfig(labels=RAVDESS_LABELS, time_pools=(2, 2))
    with pytest.raises(ConfigError, match="log_floor"):
        StudentConfig(labels=RAVDESS_LABELS, normalization="local_max")
    with pytest.raises(ConfigError, match="normalization"):
        StudentConfig(labels=RAVDESS_LABELS, normalization="frame")
    cfg = StudentConfig(labels=RAVDESS_LABELS, **STREAMABLE)
    assert cfg.streamable and cfg.frame_stride == 10 and cfg.block_time_pools == (5, 2, 1, 1)
    assert not StudentConfig(labels=RAVDESS_LABELS).streamable


def test_local_max_normalisation_removes_a_gain(speech: np.ndarray) -> None:
    """-20 dB changes nothing wherever the local reference stays above its floor (and the bin itself
    40 dB above the front end's absolute floor)."""
    model = _streamable_student()
    audio = torch.from_numpy(speech[:48000])[None]
    with torch.no_grad():
        loud, quiet = model.frontend(audio), model.frontend(audio * 0.1)
        k = model.cfg.local_context_frames
        reference = torch.nn.functional.max_pool1d(quiet.amax(dim=1, keepdim=True), 2 * k + 1, stride=1)[0, 0]
        floor = model.cfg.local_floor_db * np.log(10) / 10
        torch.testing.assert_close(model.local_max_normalize(quiet)[0, :, 0],
                                   quiet[0, :, k] - torch.clamp(reference[0], min=floor))  # the 1-D sliding max
        above = reference > model.cfg.local_floor_db * np.log(10) / 10 + 0.1
        a, b = model.local_max_normalize(loud)[0], model.local_max_normalize(quiet)[0]
        audible = quiet[0, :, k:quiet.shape[2] - k] > np.log(LEVEL_INVARIANT_LOG_FLOOR) + 40 * np.log(10) / 10
    keep = audible & above[None, :]
    assert above.sum() > 100 and keep.sum() > 1000  # much of the window is near speech
    np.testing.assert_allclose(a[keep].numpy(), b[keep].numpy(), atol=1e-3)
    assert not torch.allclose(a, b, atol=1e-3)  # the quiet pauses do hit the floor


def test_a_padded_trunk_is_not_streamable() -> None:
    from edgeemo.export.stream_graph import stream_geometry

    with pytest.raises(ConfigError, match="not streamable"):
        stream_geometry(StudentNet(StudentConfig(labels=RAVDESS_LABELS)).eval())


def test_stream_steps_equal_whole_windows_in_torch(speech: np.ndarray) -> None:
    from edgeemo.export.stream_graph import _StreamWrapper, stream_geometry

    model = _streamable_student()
    g = stream_geometry(model)
    assert (g.new_frames, g.new_columns) == (50, 5) and g.window_columns > g.new_columns
    step = _StreamWrapper(model, g)
    mel, cols = torch.zeros(1, 64, 0), torch.zeros(1, 64, 8, 0)
    with torch.no_grad():
        for k in range(4):
            start = k * g.hop_samples
            chunk = speech[:g.window_samples] if k == 0 else speech[start + g.step_offset:][:g.step_samples]
            probs, _, mel, cols = step(torch.from_numpy(chunk)[None], mel, cols)
            want = torch.softmax(model(torch.from_numpy(speech[start:start + g.window_samples])[None])["logits"], 1)
            torch.testing.assert_close(probs, want, atol=1e-6, rtol=0)
            assert mel.shape[2] == g.mel_context and cols.shape[3] == g.window_columns - g.new_columns


def test_onnx_stream_graph_matches_the_window_model(exported: dict[str, Path], speech: np.ndarray) -> None:
    import onnx

    from edgeemo.export.stream_graph import check_stream_parity
    from edgeemo.fileio import sha256_file
    from edgeemo.incremental import StreamGeometry, stream_graph_path

    assert exported["stream"] == stream_graph_path(exported["window"])
    assert exported["stream"].name == "student.stream.onnx"
    meta = {p.key: p.value for p in onnx.load(str(exported["stream"])).metadata_props}
    assert meta["window_model_sha256"] == sha256_file(exported["window"])
    assert StreamGeometry.from_json(meta["stream_geometry"]).hop_samples == 8000
    assert check_stream_parity(exported["window"], exported["stream"], speech) < 1e-5


def test_a_quantized_window_model_is_refused(exported: dict[str, Path], tmp_path: Path) -> None:
    import onnx

    from edgeemo.export.metadata import get_metadata, set_metadata
    from edgeemo.export.stream_graph import export_stream_graph

    proto = onnx.load(str(exported["window"]))
    set_metadata(proto, {**get_metadata(proto), "quantization": "int8"})
    onnx.save(proto, str(tmp_path / "int8.onnx"))
    with pytest.raises(ConfigError, match="float32"):
        export_stream_graph(_streamable_student(), tmp_path / "int8.onnx")


def _results(rec: Recognizer, audio: np.ndarray, chunks: list[int], **options: object) -> tuple[list, bool]:
    stream = rec.create_stream(vad=False, **options)
    out, pos = [], 0
    for n in chunks:
        stream.accept(audio[pos:pos + n])
        pos += n
        out += list(stream.results())
    stream.accept(audio[pos:])
    out += list(stream.flush())
    return out, stream.incremental


def test_sdk_streams_incrementally_with_the_same_scores(exported: dict[str, Path], speech: np.ndarray) -> None:
    rec = Recognizer(exported["window"], num_threads=1)
    assert rec.stream_graph() is not None
    rng = np.random.default_rng(0)
    inc, used = _results(rec, speech, list(rng.integers(1, 9000, size=30)))
    assert used
    other_chunks, _ = _results(rec, speech, [16000] * 5)
    whole, used_whole = _results(rec, speech, [16000] * 5, incremental=False)
    assert not used_whole
    n_full = 1 + (len(speech) - 48000) // 8000
    assert len(inc) == len(whole) and len(inc) >= n_full  # the partial window at flush, too
    got = np.array([list(r.scores.values()) for r in inc])
    same = np.array([list(r.scores.values()) for r in other_chunks])
    want = np.array([list(r.scores.values()) for r in whole])
    np.testing.assert_array_equal(got, same)  # chunking changes nothing
    np.testing.assert_allclose(got, want, atol=1e-5)  # the window model's scores
    assert [r.start_s for r in inc] == [r.start_s for r in whole]


def test_another_hop_streams_whole_windows(exported: dict[str, Path], speech: np.ndarray) -> None:
    rec = Recognizer(exported["window"], num_threads=1)
    assert not rec.create_stream(hop_s=0.25).incremental
    assert rec.create_stream().incremental


def test_a_stale_stream_graph_is_refused(exported: dict[str, Path], tmp_path: Path) -> None:
    import onnx

    from edgeemo.export.metadata import get_metadata, set_metadata

    proto = onnx.load(str(exported["window"]))
    set_metadata(proto, {**get_metadata(proto), "model_version": "9.9.9"})  # another file, same graph
    onnx.save(proto, str(tmp_path / "student.onnx"))
    shutil.copyfile(exported["stream"], tmp_path / "student.stream.onnx")
    rec = Recognizer(tmp_path / "student.onnx", num_threads=1)
    with pytest.raises(ModelMetadataError, match="SHA-256"):
        rec.create_stream()


def test_a_calibrated_window_model_gives_a_calibrated_stream_graph(exported: dict[str, Path], speech: np.ndarray,
                                                                   tmp_path: Path) -> None:
    import onnx

    from edgeemo.export.calibrate import apply_temperature
    from edgeemo.export.stream_graph import check_stream_parity, export_stream_graph

    calibrated = tmp_path / "calibrated.onnx"
    meta = apply_temperature(exported["window"], calibrated, 1.7, fitted_on="test")
    stream = export_stream_graph(_streamable_student(), calibrated)
    assert check_stream_parity(calibrated, stream, speech) < 1e-5
    uncal = check_stream_parity(exported["window"], stream, speech)
    assert uncal > 1e-3  # the temperature is in the stream graph, not only in its metadata
    stream_meta = {p.key: p.value for p in onnx.load(str(stream)).metadata_props}
    assert stream_meta["calibration"] == meta["calibration"]


def test_profile_times_the_stream_graph(exported: dict[str, Path], speech: np.ndarray) -> None:
    from edgeemo.profiling import profile_model

    report = profile_model(exported["window"], windows=4, audio=speech)
    assert report.stream_hop is not None and report.rtf_incremental is not None
    assert 0 < report.stream_hop.p50 < report.run.p50 * 2  # one hop's step, not a whole-window pass
    assert report.to_dict()["stream_hop"]["p50"] == report.stream_hop.p50


def test_streaming_bench_measures_both_paths(exported: dict[str, Path], speech: np.ndarray, repo_root: Path,
                                             test_module_loader, tmp_path: Path) -> None:
    bench = test_module_loader("edgeemo_bench_streaming", repo_root / "bench" / "streaming.py")
    row = bench.measure(str(exported["window"]), speech[: 16000 * 8], repeats=1)
    assert row["stream_graph"] and row["windows"] == 11
    assert row["stream_incremental_max_abs"] < 1e-5 and row["stream_windows_max_abs"] < 1e-5
    assert 0 < row["stream_graph_ms_per_s"] < row["stream_incremental_ms_per_s"]
    text = bench.render([row], {"date": "today", "cpu": "test", "repeats": 1})
    assert "| student.onnx | yes |" in text


def test_a_window_model_that_is_not_onnx_is_one_clear_error(tmp_path: Path) -> None:
    from edgeemo.export.stream_graph import export_stream_graph

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ConfigError, match="not a readable ONNX model"):
        export_stream_graph(_streamable_student(), bad)
