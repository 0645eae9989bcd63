"""Readers that turn original dataset releases into :class:`edgeemo.train.dialogue.data.DialogueSet`.

* :mod:`.meld` — MELD release CSVs and the shared ``meld_text/manifest.csv``.
* :mod:`.iemocap` — IEMOCAP release layout (``Session*/dialog/EmoEvaluation`` + ``transcriptions``).
* :mod:`.cogmen_pickle` — one-time conversion of COGMEN / DialogueRNN feature pickles (opt-in:
  a pickle can run code when loaded).
"""

from __future__ import annotations

from .cogmen_pickle import convert_cogmen_pickle
from .iemocap import IEMOCAP4_LABELS, IEMOCAP6_LABELS, read_iemocap_release
from .meld import MELD_LABELS, read_meld_manifest, read_meld_release

__all__ = [
    "IEMOCAP4_LABELS",
    "IEMOCAP6_LABELS",
    "MELD_LABELS",
    "convert_cogmen_pickle",
    "read_iemocap_release",
    "read_meld_manifest",
    "read_meld_release",
]
