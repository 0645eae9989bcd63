"""Write golden vectors for the C/C++ bindings with the Python SDK (the reference implementation).

    python tests/cpp/make_golden.py MODEL.onnx OUT.bin [--data DIR] [--chunk N]

For a few real RAVDESS clips (test actors) and edge cases cut from them, it stores the audio
exactly as given to the model and what the Python SDK computes:

* whole-clip windows (``edgeemo.contract.clip_window_starts`` + ``Recognizer.classify_batch``),
* the clip result (``Recognizer.classify``: mean probabilities, mean valence/arousal),
* the stream results (``Recognizer.create_stream(vad=False, smoothing=0)``, fed in chunks of
  ``--chunk`` samples, then ``flush()``).

tests/cpp/test_golden.cpp checks that the C API gives the same number of windows, the same window
spans and every score within 1e-4. The Python tests may read the same file.

File format (little-endian; ``str`` = u32 byte length + UTF-8 bytes)::

    magic      8 bytes  b"EEGOLD01"
    u32 n_labels, u32 has_va, u32 sample_rate, u32 window_samples, u32 hop_samples, u32 min_samples
    str generator       (SDK / onnxruntime versions)
    str model           (file name)
    u32 n_cases, then per case:
      str name
      u32 n_samples, f32[n_samples] audio
      u32 clip_ok         (0: the SDK refused the clip as too short)
      u32 n_windows, then per window: u64 start, u64 end, f32[n_labels] probs, [f32[2] va]
      f32[n_labels] clip mean probs, [f32[2] clip mean va]
      u32 chunk           (stream chunk size used)
      u32 n_stream, then per window: u64 start, u64 end, f32[n_labels] probs, [f32[2] va]

Needs the shared data (``$EDGEEMO_DATA`` or ``../shared/data`` beside the repository); fails with a
clear message without it.
"""

from __future__ import annotations

import argparse
import csv
import os
import struct
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def data_root(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    env = os.environ.get("EDGEEMO_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def pick_clips(root: Path, n: int = 4) -> list[Path]:
    """The first clip of each of ``n`` labels among the test actors (deterministic)."""
    manifest = root / "ravdess" / "manifest.csv"
    if not manifest.is_file():
        sys.exit(
            f"make_golden: the shared data is missing: no {manifest}. Put the project's shared/ "
            "folder beside the repository or set EDGEEMO_DATA."
        )
    picked: dict[str, Path] = {}
    with open(manifest, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "test" and row["label"] not in picked:
                picked[row["label"]] = root / "ravdess" / row["path"]
            if len(picked) == n:
                break
    return list(picked.values())


class Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u32(self, v: int) -> None:
        self.parts.append(struct.pack("<I", int(v)))

    def u64(self, v: int) -> None:
        self.parts.append(struct.pack("<Q", int(v)))

    def f32(self, a) -> None:
        self.parts.append(np.ascontiguousarray(a, dtype="<f4").tobytes())

    def str(self, s: str) -> None:
        b = s.encode("utf-8")
        self.u32(len(b))
        self.parts.append(b)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--data", default=None, help="shared data root (default $EDGEEMO_DATA or ../shared/data)")
    ap.add_argument("--chunk", type=int, default=1000, help="stream chunk size in samples")
    args = ap.parse_args()

    import onnxruntime
    import soundfile

    import edgeemo
    from edgeemo import contract
    from edgeemo.contract import clip_window_starts
    from edgeemo.errors import AudioTooShortError

    rec = edgeemo.Recognizer(args.model, num_threads=1)
    sr, w, hop, mn = rec.sample_rate, rec.window_samples, rec.hop_samples, rec.min_samples
    labels = list(rec.labels)
    has_va = contract.HEAD_VALENCE_AROUSAL in rec.heads

    clips = pick_clips(data_root(args.data))
    audio: list[tuple[str, np.ndarray]] = []
    for p in clips:
        x, file_sr = soundfile.read(str(p), dtype="float32", always_2d=False)
        if file_sr != sr:
            sys.exit(f"make_golden: {p} is {file_sr} Hz but the model takes {sr} Hz")
        audio.append((p.name, np.ascontiguousarray(x, dtype=np.float32)))
    base = audio[0][1]
    if base.size < 2 * w:
        base = np.tile(base, 2 * w // base.size + 1)
    audio += [
        ("short_padded", base[: (mn + w) // 2].copy()),
        ("exact_min", base[:mn].copy()),
        ("exact_window", base[:w].copy()),
        ("window_plus_one", base[: w + 1].copy()),
        ("too_short", base[: mn - 1].copy()),
        ("loud_clipped", (audio[0][1] * 2.5).astype(np.float32)),
        ("silence", np.zeros(w + w // 2, np.float32)),
    ]

    out = Writer()
    out.parts.append(b"EEGOLD01")
    for v in (len(labels), int(has_va), sr, w, hop, mn):
        out.u32(v)
    out.str(f"edgeemo {edgeemo.__version__} Python SDK, onnxruntime {onnxruntime.__version__}")
    out.str(Path(args.model).name)
    out.u32(len(audio))

    def windows_of(results) -> list[tuple[int, int, np.ndarray, np.ndarray | None]]:
        rows = []
        for r in results:
            probs = np.array([r.scores[lab] for lab in labels], np.float32)
            va = np.array([r.valence, r.arousal], np.float32) if has_va else None
            rows.append((round(r.start_s * sr), round(r.end_s * sr), probs, va))
        return rows

    def put_windows(rows) -> None:
        out.u32(len(rows))
        for start, end, probs, va in rows:
            out.u64(start)
            out.u64(end)
            out.f32(probs)
            if has_va:
                out.f32(va)

    for name, x in audio:
        out.str(name)
        out.u32(x.size)
        out.f32(x)
        try:
            clip = rec.classify(x, sr)
            clip_ok = True
        except AudioTooShortError:
            clip_ok = False
        out.u32(int(clip_ok))
        rows = []
        if clip_ok:
            n = x.size
            xc = np.clip(x, -1.0, 1.0)  # what classify feeds the model (peak <= 4 is clipped)
            padded = np.concatenate([xc, np.zeros(max(0, w - n), np.float32)])
            starts = clip_window_starts(padded.size, w, hop)
            batch = np.stack([padded[s : s + w] for s in starts])
            scores = rec.classify_batch(batch)
            for i, s in enumerate(starts):
                va = scores.valence_arousal[i] if has_va else None
                rows.append((s, min(s + w, n), scores.probs[i], va))
            mean = np.array([clip.scores[lab] for lab in labels], np.float32)
            mean_va = np.array([clip.valence, clip.arousal], np.float32) if has_va else None
        else:
            mean = np.zeros(len(labels), np.float32)
            mean_va = np.zeros(2, np.float32) if has_va else None
        put_windows(rows)
        out.f32(mean)
        if has_va:
            out.f32(mean_va)

        stream = rec.create_stream(vad=False, smoothing=0.0)
        results = []
        for i in range(0, x.size, args.chunk):
            stream.accept(x[i : i + args.chunk], sr)
            results += list(stream.results())
        results += list(stream.flush())
        out.u32(args.chunk)
        put_windows(windows_of(results))

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(out.bytes())
    print(f"make_golden: {len(audio)} cases from {Path(args.model).name} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
