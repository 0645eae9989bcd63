"""Writes non-speech test clips (16 kHz float WAV) for the C++/Python no-speech checks.

    python make_non_speech.py OUTDIR

Files are named ``nonspeech_*.wav``; tests/cpp/check_json_schema.py requires both command lines to
label every such file ``no_speech``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    n = 4 * SR
    t = np.arange(n) / SR
    clips = {
        "silence": np.zeros(n),
        "hum50": 0.3 * np.sin(2 * np.pi * 50 * t),
        "tone440": 0.3 * np.sin(2 * np.pi * 440 * t),
        "square220": 0.3 * np.sign(np.sin(2 * np.pi * 220 * t)),
        "white": 0.1 * rng.standard_normal(n),
        "noise_bursts": 0.1 * rng.standard_normal(n) * (np.sin(2 * np.pi * 2 * t) > 0),
        "tone_bursts": 0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * t) > 0),
    }
    c = np.zeros(n)
    c[:: SR // 10] = 0.9
    clips["clicks"] = c
    for name, x in clips.items():
        sf.write(out / f"nonspeech_{name}.wav", x.astype(np.float32), SR, subtype="FLOAT")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
