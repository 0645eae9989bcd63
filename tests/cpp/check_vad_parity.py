"""The C library's speech detector makes the Python SDK's decisions (sdk/vad.py, cpp_bindings/src/vad.cpp).

    python check_vad_parity.py LIBEDGEEMO.so [CLIP...]

Loads the library with ctypes and compares ``edgeemo_speech_frames`` with
``edgeemo.vad.SpeechDetector`` frame by frame on synthetic non-speech (tests/fixtures/non_speech.py:
tones, hum, square waves, clicks, noise and noise bursts, chords, silence, a tone after silence) and a
voiced glide, on the given speech clips, and at 8/16/44.1 kHz: the frame probabilities agree to 1e-6
and every speech/non-speech decision is the same. ctest ``speech_detector_parity`` runs it; exit
status 0 when all holds.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from non_speech import signals as non_speech_signals


def signals(sr: int) -> dict[str, np.ndarray]:
    """The shared non-speech signals (tests/fixtures/non_speech.py, 3 s) and a voiced glide."""
    out = non_speech_signals(sr, seconds=3.0, seed=3)
    # a glide with a vibrato: voiced and changing, so some frames count as speech
    t = np.arange(int(3.0 * sr)) / sr
    f0 = 150 + 60 * np.sin(2 * np.pi * 0.7 * t)
    ph = 2 * np.pi * np.cumsum(f0) / sr
    glide = 0.2 * sum(np.sin(h * ph) / h for h in range(1, 8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    out["voiced glide"] = glide.astype(np.float32)
    return out


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    from edgeemo.vad import SpeechDetector

    lib = ctypes.CDLL(argv[0])
    fn = lib.edgeemo_speech_frames
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_size_t, ctypes.c_int,
                   ctypes.POINTER(ctypes.c_double), ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    cases: list[tuple[str, np.ndarray, int]] = []
    for sr in (16000, 8000, 44100):
        cases += [(f"{k} @ {sr}", x, sr) for k, x in signals(sr).items()]
    if len(argv) > 1:
        import soundfile as sf

        for path in argv[1:]:
            x, sr = sf.read(path, dtype="float32")
            cases.append((path, x if x.ndim == 1 else x.mean(axis=1), sr))
    problems = []
    n_frames = n_speech = 0
    for name, x, sr in cases:
        x = np.ascontiguousarray(x, np.float32)
        det = SpeechDetector(sr)
        det.accept(x)
        py = det.frame_probs
        out = np.zeros(py.size + 4, np.float64)
        count = ctypes.c_size_t(0)
        rc = fn(x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), x.size, sr,
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), out.size, ctypes.byref(count))
        if rc != 0 or count.value != py.size:
            problems.append(f"{name}: status {rc}, {count.value} C frames vs {py.size} Python frames")
            continue
        c = out[: py.size]
        diff = float(np.abs(c - py).max()) if py.size else 0.0
        flips = int(np.sum((c >= 0.5) != (py >= 0.5)))
        n_frames += py.size
        n_speech += int(np.sum(py >= 0.5))
        if diff > 1e-6 or flips:
            problems.append(f"{name}: max |C - Python| {diff:.2e}, {flips} decision(s) differ")
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"{len(cases)} signal(s), {n_frames} frames ({n_speech} speech): {'OK' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
