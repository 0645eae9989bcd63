"""Temperature calibration: the bundled file's calibrated probs, ECE by hand, the fit, the graph
surgery and `edgeemo export calibrate`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import edgeemo
from edgeemo import contract
from edgeemo.export import calibrate as cal


def test_bundled_model_is_calibrated_in_the_graph() -> None:
    import onnxruntime as ort

    rec = edgeemo.Recognizer("tiny")
    fields = cal.parse_calibration(rec.info.metadata[contract.KEY_CALIBRATION])
    t = float(fields["temperature"])
    assert 0.5 < t < 2.0 and t != 1.0 and "out-of-fold" in fields["fitted_on"]
    assert {"ece_before", "ece_after"} <= set(fields)
    sess = ort.InferenceSession(str(rec.info.path), providers=["CPUExecutionProvider"])
    x = (np.random.default_rng(0).standard_normal((3, rec.window_samples)) * 0.1).astype(np.float32)
    probs, unc = sess.run([contract.OUTPUT_PROBS, contract.OUTPUT_PROBS_UNCALIBRATED], {contract.INPUT_NAME: x})
    z = np.log(np.maximum(unc.astype(np.float64), 1e-12)) / t
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert np.abs(probs - unc).max() > 1e-4  # the temperature really changes them (T = 0.98: a little)
    sharper = probs.max(axis=1) > unc.max(axis=1)
    assert (sharper if t < 1 else ~sharper).all()  # T < 1 sharpens, T > 1 softens
    # what the SDK reports is the calibrated output
    np.testing.assert_allclose(rec.classify_batch(x).probs, probs, atol=1e-6)


def test_ece_by_hand() -> None:
    probs = np.array([
        [0.95, 0.05],  # bin 10, correct
        [0.85, 0.15],  # bin 9, wrong
        [0.55, 0.45],  # bin 6, correct
        [0.45, 0.55],  # bin 6 (conf 0.55), wrong (label 0)
    ])
    labels = np.array([0, 1, 0, 0])
    # bin (0.9, 1]: acc 1, conf 0.95 -> |0.05| * 1/4; bin (0.8, 0.9]: acc 0, conf 0.85 -> 0.85 / 4;
    # bin (0.5, 0.6]: acc 0.5, conf 0.55 -> 0.05 * 2/4
    expected = 0.05 / 4 + 0.85 / 4 + 0.05 * 2 / 4
    assert cal.expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(expected)
    rel = cal.reliability(probs, labels, n_bins=10)
    assert rel.counts.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 1, 1]
    assert rel.accuracy[5] == 0.5 and np.isnan(rel.accuracy[0])
    assert cal.expected_calibration_error(probs, labels, n_bins=1) == pytest.approx(abs(0.5 - 0.725))
    assert cal.accuracy(probs, labels) == 0.5
    assert cal.nll(probs, labels) == pytest.approx(-np.mean(np.log([0.95, 0.15, 0.55, 0.45])))


def test_fit_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(1)
    n, c, t_true = 4000, 6, 1.8
    logits = rng.normal(0, 2.0, (n, c))
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(c, p=p) for p in true_p])
    over = cal.calibrate_probs(true_p, 1.0 / t_true)  # an overconfident model: logits * 1.8
    t = cal.fit_temperature(over, labels)
    assert t == pytest.approx(t_true, rel=0.08)
    assert cal.expected_calibration_error(cal.calibrate_probs(over, t), labels) < cal.expected_calibration_error(over, labels)
    # groups: clip = mean of its windows; rows of one clip share its label
    groups = np.repeat(np.arange(n // 4), 4)
    labels_g = labels[::4].repeat(4)
    tg = cal.fit_temperature(over, labels_g, groups=groups)
    assert cal.T_BOUNDS[0] <= tg <= cal.T_BOUNDS[1]
    clip, first = cal.clip_probs(over, groups)
    assert clip.shape == (n // 4, c) and first.tolist() == list(range(0, n, 4))
    np.testing.assert_allclose(clip[1], over[4:8].mean(axis=0))


def test_bad_inputs() -> None:
    with pytest.raises(edgeemo.ConfigError):
        cal.fit_temperature(np.ones((3, 2)) / 2, np.array([0, 1, 2]))
    with pytest.raises(edgeemo.ConfigError):
        cal.expected_calibration_error(np.ones((3, 2)) / 2, np.array([0.0, 1.0, 0.0]))
    with pytest.raises(edgeemo.ConfigError):
        cal.calibrate_probs(np.array([[np.nan, 1.0]]), 1.0)


def test_apply_temperature_to_a_fixture_model(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    src = fixture_models["valid"]
    out = tmp_path / "cal.onnx"
    meta = cal.apply_temperature(src, out, 2.0, fitted_on="unit test", ece_before=0.2, ece_after=0.1)
    assert cal.parse_calibration(meta[contract.KEY_CALIBRATION]) == {
        "temperature": "2.000000", "fitted_on": "unit test", "ece_before": "0.2000", "ece_after": "0.1000"}
    a, b = edgeemo.Recognizer(src), edgeemo.Recognizer(out)
    x = (np.random.default_rng(2).standard_normal((4, a.window_samples)) * 0.2).astype(np.float32)
    pa, pb = a.classify_batch(x).probs, b.classify_batch(x).probs
    np.testing.assert_allclose(pb, cal.calibrate_probs(pa, 2.0), atol=1e-6)
    with pytest.raises(edgeemo.ConfigError, match="already calibrated"):
        cal.apply_temperature(out, out, 1.5)
    cal.apply_temperature(out, out, 0.5, replace=True)  # T always applies to the uncalibrated output
    np.testing.assert_allclose(edgeemo.Recognizer(out).classify_batch(x).probs, cal.calibrate_probs(pa, 0.5), atol=1e-6)
    with pytest.raises(edgeemo.ConfigError, match="temperature"):
        cal.apply_temperature(src, tmp_path / "x.onnx", 0.0)


def test_export_calibrate_cli(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    from edgeemo.cli.main import cli

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3.0, (300, 8))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(8, p=p) for p in cal.calibrate_probs(probs, 2.0)])
    npz = tmp_path / "oof.npz"
    np.savez(npz, probs=probs, labels=labels)
    out = tmp_path / "cal.onnx"
    res = CliRunner().invoke(cli, ["export", "calibrate", str(fixture_models["valid"]), "--out", str(out),
                                   "--predictions", str(npz), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["temperature"] == pytest.approx(2.0, rel=0.25)
    assert report["nll_after"] < report["nll_before"] and report["ece_after"] < report["ece_before"]
    meta = edgeemo.Recognizer(out).info.metadata
    assert cal.parse_calibration(meta[contract.KEY_CALIBRATION])["fitted_on"].startswith("predictions")
