"""IEMOCAP reader for the original release layout.

Layout (``IEMOCAP_full_release``)::

    Session{1..5}/dialog/EmoEvaluation/<dialogue>.txt
    Session{1..5}/dialog/transcriptions/<dialogue>.txt

An EmoEvaluation file has one summary line per turn, tab separated::

    [6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]

(start - end seconds, turn name, consensus label, ``[valence, activation, dominance]`` on a 1-5
scale), followed by per-annotator lines (``C-E1:``, ``A-E1:`` ...) that are ignored. A
transcription file has lines ``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``; lines for
turns without an evaluation (``..._MXX0``, noise markers) are ignored. macOS ``._*`` resource-fork
files, found in some copies of the release, are skipped.

Labels follow COGMEN/DialogueRNN. ``classes=6``: hap, sad, neu, ang, exc, fru (indices in that
order, names ``happy, sad, neutral, angry, excited, frustrated``). ``classes=4``: hap and exc merge
into ``happy``; sad, neu, ang; fru is dropped. Utterances with any other label (xxx, oth, sur, fea,
dis) are dropped by default, as in the published feature files; with ``keep_unlabeled=True`` they
stay in the dialogue as context nodes with label ``-1`` (not supervised).

Valence and arousal (= activation) are mapped from 1..5 to ``[-1, 1]`` by ``(x - 3) / 2``.
The speaker of a turn is the actor: ``Ses01_F`` / ``Ses01_M`` (session + the gender letter that
opens the last part of the turn name). Split: session 5 is ``test``; sessions 1-4 are ``train``
except a seeded ``dev_fraction`` of their dialogues, which are ``dev``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgeemo.errors import ConfigError

from ..data import Dialogue, DialogueDataError, DialogueSet

__all__ = [
    "IEMOCAP4_LABELS",
    "IEMOCAP6_CODES",
    "IEMOCAP6_LABELS",
    "parse_emo_evaluation",
    "parse_transcription",
    "read_iemocap_release",
]

IEMOCAP6_CODES: list[str] = ["hap", "sad", "neu", "ang", "exc", "fru"]
IEMOCAP6_LABELS: list[str] = ["happy", "sad", "neutral", "angry", "excited", "frustrated"]
IEMOCAP4_LABELS: list[str] = ["happy", "sad", "neutral", "angry"]
_MAP6 = {c: i for i, c in enumerate(IEMOCAP6_CODES)}
_MAP4 = {"hap": 0, "exc": 0, "sad": 1, "neu": 2, "ang": 3}

_EVAL_RE = re.compile(
    r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(Ses\S+)\s+(\w+)\s+"
    r"\[\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\]\s*$"
)
_TRANS_RE = re.compile(r"^(Ses\S+)\s+\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]:\s?(.*)$")


@dataclass(frozen=True)
class Turn:
    """One evaluated turn of an EmoEvaluation file."""

    turn: str
    start: float
    end: float
    code: str
    valence: float
    arousal: float
    dominance: float


def parse_emo_evaluation(path: Path) -> list[Turn]:
    """Summary lines of one EmoEvaluation file (annotator detail lines are skipped)."""
    turns = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _EVAL_RE.match(line.strip())
        if m:
            s, e, name, code, v, a, d = m.groups()
            turns.append(Turn(name, float(s), float(e), code, float(v), float(a), float(d)))
    return turns


def parse_transcription(path: Path) -> dict[str, str]:
    """Turn name -> text for one transcription file."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _TRANS_RE.match(line.strip())
        if m:
            out[m.group(1)] = m.group(4).strip()
    return out


def _speaker(turn: str) -> str:
    session = turn[:5]  # "Ses01"
    gender = turn.rsplit("_", 1)[-1][:1].upper()
    if gender not in ("F", "M"):
        raise DialogueDataError(f"cannot read the speaker of IEMOCAP turn {turn!r}")
    return f"{session}_{gender}"


def read_iemocap_release(
    root: str | Path,
    *,
    classes: int = 6,
    sessions: tuple[int, ...] = (1, 2, 3, 4, 5),
    test_session: int = 5,
    dev_fraction: float = 0.1,
    seed: int = 0,
    keep_unlabeled: bool = False,
) -> DialogueSet:
    """Read IEMOCAP's release folders under ``root`` into a :class:`DialogueSet`.

    ``classes`` is 6 or 4 (see the module doc). Every dialogue of ``test_session`` is ``test``;
    a seeded ``dev_fraction`` of the other sessions' dialogues is ``dev``, the rest ``train``.
    """
    if classes not in (4, 6):
        raise ConfigError(f"classes must be 4 or 6, not {classes}")
    if not 0.0 <= dev_fraction < 1.0:
        raise ConfigError(f"dev_fraction must be in [0, 1), not {dev_fraction}")
    root = Path(root)
    mapping = _MAP6 if classes == 6 else _MAP4
    labels = IEMOCAP6_LABELS if classes == 6 else IEMOCAP4_LABELS
    dialogues: list[Dialogue] = []
    for sess in sessions:
        eval_dir = root / f"Session{sess}" / "dialog" / "EmoEvaluation"
        trans_dir = root / f"Session{sess}" / "dialog" / "transcriptions"
        if not eval_dir.is_dir():
            raise FileNotFoundError(f"missing IEMOCAP folder {eval_dir}")
        for path in sorted(eval_dir.glob("*.txt")):
            if path.name.startswith("._"):
                continue
            turns = parse_emo_evaluation(path)
            texts = parse_transcription(trans_dir / path.name)
            turns.sort(key=lambda t: (t.start, t.turn))
            kept = [t for t in turns if t.code in mapping or keep_unlabeled]
            if not kept:
                continue
            split = "test" if sess == test_session else "train"
            dialogues.append(
                Dialogue(
                    dialogue_id=path.stem,
                    split=split,
                    utterance_ids=[t.turn for t in kept],
                    speakers=[_speaker(t.turn) for t in kept],
                    labels=np.asarray([mapping.get(t.code, -1) for t in kept], dtype=np.int64),
                    valence=np.asarray([(t.valence - 3.0) / 2.0 for t in kept], dtype=np.float32),
                    arousal=np.asarray([(t.arousal - 3.0) / 2.0 for t in kept], dtype=np.float32),
                    transcripts=[texts.get(t.turn, "") for t in kept],
                )
            )
    if not dialogues:
        raise DialogueDataError(f"no IEMOCAP dialogues found under {root}")
    train_ids = sorted(d.dialogue_id for d in dialogues if d.split == "train")
    n_dev = round(len(train_ids) * dev_fraction)
    if n_dev:
        rng = np.random.default_rng(seed)
        dev_ids = {train_ids[i] for i in rng.permutation(len(train_ids))[:n_dev]}
        for d in dialogues:
            if d.dialogue_id in dev_ids:
                d.split = "dev"
    return DialogueSet(
        name=f"iemocap{classes}",
        label_names=list(labels),
        dialogues=dialogues,
        heads=("emotion", "valence", "arousal"),
        meta={
            "source": f"IEMOCAP release in {root}",
            "dataset": "iemocap",
            "valence_arousal_scale": "(x - 3) / 2 from the 1..5 annotation scale",
            "dev": f"{dev_fraction} of sessions != {test_session}, seed {seed}",
        },
    )
