"""A stand-in for the real model while sdk/models/ lacks it: the student architecture
(edgeemo.train.models.student, default config) with RANDOM weights, exported and INT8-quantized by
the real export code (edgeemo.export). Its scores mean nothing; its graph, size and cost are the
real model's, so latency and memory measured on it are representative.

    python tests/cpp/make_proxy_model.py OUT_DIR      # needs the [train,export] extras (torch)

Writes OUT_DIR/proxy-student-int8.onnx (and the FP32 export beside it). Use it with
``-DEDGEEMO_REAL_MODEL=OUT_DIR/proxy-student-int8.onnx`` to run the real-model ctests on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(out_dir: str) -> Path:
    import soundfile
    import torch

    from edgeemo.export.onnx_export import export_student
    from edgeemo.export.quantize import calibration_windows, quantize_int8
    from edgeemo.train.checkpoint import save_checkpoint
    from edgeemo.train.models.student import StudentConfig, StudentNet

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_golden import data_root, pick_clips

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    labels = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")
    cfg = StudentConfig(labels=labels)
    model = StudentNet(cfg).eval()
    ckpt = save_checkpoint(
        out / "proxy-checkpoint",
        config={"kind": "student", "model": cfg.to_dict(), "train_speakers": []},
        weights=model.state_dict(),
    )
    fp32 = export_student(ckpt, out / "proxy-student.onnx", model_name="edgeemo-proxy-random-weights",
                          training_data="none (random weights: a cost proxy only)")
    waves = [soundfile.read(str(p), dtype="float32")[0] for p in pick_clips(data_root(None), 8)]
    calib = calibration_windows(waves, cfg.window_samples, 16)
    q = quantize_int8(fp32.path, out / "proxy-student-int8.onnx", np.asarray(calib, np.float32))
    print(f"proxy model: {q.path} ({q.path.stat().st_size / 1024:.0f} KiB; FP32 {fp32.n_bytes / 1024:.0f} KiB)")
    return q.path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/cpp/make_proxy_model.py OUT_DIR")
    main(sys.argv[1])
