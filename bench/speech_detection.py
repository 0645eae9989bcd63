"""Speech detection: non-speech kinds and RAVDESS speech, three detectors, end-to-end labels.

    python bench/speech_detection.py [--data ROOT] [--webrtcvad-path DIR]

Prints Markdown tables (pasted into docs/api.md, "No speech and uncertain results"):

1. per non-speech kind (synthetic, 4 s, two levels): the fraction of clips judged speech by each
   detector (clip rule: at least 10 % speech frames; the energy gate alone at its former 20 %),
   and what edgeemo reports end to end with the bundled model: ``classify`` clips and stream
   windows (hop 0.5 s) labelled with an emotion;
2. speech: the fraction of RAVDESS clips judged speech (actors 19-20, all 120 clips; a fixed
   random sample of 240 clips of actors 01-18).

webrtcvad (``webrtcvad-wheels``, mode 3, 30 ms frames) is measured only when importable (e.g.
``pip install --target DIR webrtcvad-wheels`` and ``--webrtcvad-path DIR``); edgeemo does not use it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures"))
from non_speech import signals as non_speech_signals  # tests/fixtures/non_speech.py

SR = 16000


def nonspeech(dur: float = 4.0, level: float = 0.3, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic non-speech signals at ``SR`` (peak about ``level``): the kinds of
    tests/fixtures/non_speech.py (renamed as in docs/api.md) and more noises, sweeps and music."""
    shared = non_speech_signals(SR, seconds=dur, seed=seed)
    rng = np.random.default_rng([seed, 1])  # this bench's own noises, not the shared ones
    n = int(dur * SR)
    t = np.arange(n) / SR

    def norm(y: np.ndarray) -> np.ndarray:
        return (level * y / max(np.abs(y).max(), 1e-12)).astype(np.float32)

    out: dict[str, np.ndarray] = {"silence": shared["silence"]}
    out["dither (-80 dBFS noise)"] = (rng.standard_normal(n) * 1e-4).astype(np.float32)
    out["hum 50 Hz"] = norm(shared["hum 50 Hz"])
    out["hum 50 Hz + harmonics"] = norm(sum(np.sin(2 * np.pi * 50 * h * t) / h for h in (1, 2, 3)))
    out["tone 440 Hz"] = norm(shared["tone 440 Hz"])
    out["tone 200 Hz"] = norm(np.sin(2 * np.pi * 200 * t))
    out["square 220 Hz"] = norm(shared["square 220 Hz"])
    out["sweep 100-4000 Hz"] = norm(np.sin(2 * np.pi * (100 * t + (3900 / (2 * dur)) * t**2)))
    out["clicks 10/s"] = norm(shared["clicks 10/s"])
    c = np.zeros(n)
    idx = rng.choice(n, int(8 * dur), replace=False)
    c[idx] = rng.uniform(-1, 1, idx.size)
    out["clicks random 8/s"] = norm(c)
    out["white noise"] = norm(shared["white noise"])
    f = np.fft.rfft(rng.standard_normal(n))
    pink = np.fft.irfft(f * np.r_[0, 1 / np.sqrt(np.arange(1, f.size))], n)
    brown = np.fft.irfft(f * np.r_[0, 1 / np.arange(1, f.size)], n)
    out["pink noise"] = norm(pink)
    gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)
    out["white-noise bursts 2/s"] = norm(shared["white-noise bursts"])
    out["pink-noise bursts 2/s"] = norm(pink * gate)
    out["brown-noise bursts 2/s"] = norm(brown * gate)
    out["tone bursts 1/s"] = norm(shared["tone bursts"])
    out["silence, then a tone"] = norm(shared["silence then tone"])
    roots = [130.81, 174.61, 196.0, 146.83, 164.81, 220.0, 110.0, 261.63]
    for name, seg_s, decay, vib in (("chords every 0.5 s", 0.5, 3.0, 0.0), ("chords every 1 s", 1.0, 1.5, 0.0),
                                    ("chords with vibrato", 0.5, 2.0, 0.01)):
        y = np.zeros(n)
        seg = int(seg_s * SR)
        for k, s in enumerate(range(0, n, seg)):
            m = min(seg, n - s)
            ts = np.arange(m) / SR
            env = np.minimum(ts / 0.01, 1) * np.exp(-ts * decay)
            phase = np.cumsum(1 + vib * np.sin(2 * np.pi * 5.5 * ts)) / SR
            for ratio in (1, 1.26, 1.5):
                for h in (1, 2, 3, 4):
                    y[s : s + m] += env * np.sin(2 * np.pi * roots[k % 8] * ratio * h * phase) / h
        out[name] = norm(y)
    y = np.zeros(n)
    seg = int(0.25 * SR)
    for k, s in enumerate(range(0, n, seg)):
        m = min(seg, n - s)
        ts = np.arange(m) / SR
        env = np.minimum(ts / 0.01, 1) * np.exp(-ts * 4)
        y[s : s + m] = sum(env * np.sin(2 * np.pi * 2 * roots[(k * 5) % 8] * h * ts) / h for h in range(1, 6))
    out["melody (notes every 0.25 s)"] = norm(y)
    return out


def _ratio_edgeemo(x: np.ndarray, energy_only: bool) -> float:
    from edgeemo.vad import SpeechDetector

    d = SpeechDetector(SR, energy_only=energy_only)
    d.accept(x)
    return d.speech_ratio(0, x.size)


def _ratio_webrtc(x: np.ndarray, vad: object) -> float:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    fl = int(0.03 * SR)
    k = pcm.size // fl
    if k == 0:
        return 0.0
    return float(np.mean([vad.is_speech(pcm[i * fl : (i + 1) * fl].tobytes(), SR) for i in range(k)]))  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--webrtcvad-path", default=None)
    args = ap.parse_args(argv)
    import soundfile as sf

    import edgeemo
    from edgeemo.train.data import load_ravdess

    webrtc = None
    if args.webrtcvad_path:
        sys.path.insert(0, args.webrtcvad_path)
    try:
        import webrtcvad  # type: ignore[import-not-found]

        webrtc = webrtcvad.Vad(3)
    except ImportError:
        pass
    rec = edgeemo.Recognizer()
    head = "| non-speech kind | energy gate alone (before) | " + ("webrtcvad mode 3 | " if webrtc else "")
    head += "edgeemo detector | `classify`: emotion label | stream windows with an emotion label |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    total = {"clips": 0, "clip_emotion": 0, "windows": 0, "win_emotion": 0}
    kinds: dict[str, list[np.ndarray]] = {}
    for level in (0.3, 0.03):
        for k, x in nonspeech(level=level, seed=int(level * 100)).items():
            kinds.setdefault(k, []).append(x)
    for k, xs in kinds.items():
        e = [_ratio_edgeemo(x, True) >= 0.2 for x in xs]
        d = [_ratio_edgeemo(x, False) >= 0.1 for x in xs]
        w = [_ratio_webrtc(x, webrtc) >= 0.1 for x in xs] if webrtc else []
        clip_emo = [rec.classify(x, SR).has_emotion for x in xs]
        wins = [r for x in xs for r in (lambda s: (s.accept(x), [*s.results(), *s.flush()])[1])(rec.create_stream())]
        win_emo = sum(r.has_emotion for r in wins)
        total["clips"] += len(xs)
        total["clip_emotion"] += sum(clip_emo)
        total["windows"] += len(wins)
        total["win_emotion"] += win_emo
        row = f"| {k} | {sum(e)}/{len(xs)} | " + (f"{sum(w)}/{len(xs)} | " if webrtc else "")
        row += f"{sum(d)}/{len(xs)} | {sum(clip_emo)}/{len(xs)} | {win_emo}/{len(wins)} |"
        print(row)
    print(f"\ntotal: classify {total['clip_emotion']}/{total['clips']} clips, stream "
          f"{total['win_emotion']}/{total['windows']} windows labelled with an emotion\n")

    utts = load_ravdess(args.data)
    rng = np.random.default_rng(1)
    others = [u for u in utts if u.actor <= 18]
    sets = {
        "RAVDESS actors 19-20 (all clips)": [u for u in utts if u.actor in (19, 20)],
        "RAVDESS actors 01-18 (random sample)": [others[i] for i in sorted(rng.choice(len(others), 240, replace=False))],
    }
    print("| speech | clips | energy gate alone | " + ("webrtcvad mode 3 | " if webrtc else "")
          + "edgeemo detector | lowest speech-frame fraction | `classify`: emotion or uncertain |")
    print("|---|---|---|" + ("---|" if webrtc else "") + "---|---|---|")
    for name, us in sets.items():
        xs = [sf.read(u.path, dtype="float32")[0] for u in us]
        ratios = [_ratio_edgeemo(x, False) for x in xs]
        e = np.mean([_ratio_edgeemo(x, True) >= 0.2 for x in xs])
        w = np.mean([_ratio_webrtc(x, webrtc) >= 0.1 for x in xs]) if webrtc else None
        speech = np.mean([rec.classify(x, SR).is_speech for x in xs])
        row = f"| {name} | {len(xs)} | {e * 100:.1f} % | " + (f"{w * 100:.1f} % | " if webrtc else "")
        row += f"{np.mean(np.array(ratios) >= 0.1) * 100:.1f} % | {min(ratios):.3f} | {speech * 100:.1f} % |"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
