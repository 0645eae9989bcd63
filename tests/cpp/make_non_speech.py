"""Writes non-speech test clips (16 kHz float WAV) for the C++/Python no-speech checks.

    python make_non_speech.py OUTDIR

Files are named ``nonspeech_*.wav``; tests/cpp/check_json_schema.py requires both command lines to
label every such file ``no_speech``. The signals come from tests/fixtures/non_speech.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from non_speech import signals

SR = 16000
# file name (tests/cpp/CMakeLists.txt lists these) -> signal of tests/fixtures/non_speech.py
CLIPS = {
    "silence": "silence",
    "hum50": "hum 50 Hz",
    "tone440": "tone 440 Hz",
    "square220": "square 220 Hz",
    "white": "white noise",
    "noise_bursts": "white-noise bursts",
    "tone_bursts": "tone bursts",
    "clicks": "clicks 10/s",
}


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    clips = signals(SR, seconds=4.0, seed=5)
    for name, kind in CLIPS.items():
        sf.write(out / f"nonspeech_{name}.wav", clips[kind], SR, subtype="FLOAT")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
