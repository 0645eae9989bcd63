"""Conversations: the COGMEN text/dialogue teacher and its data, evaluated on MELD.

``data`` (:class:`DialogueSet`, a pickle-free on-disk format), ``readers`` (MELD, IEMOCAP,
COGMEN pickles), ``text_embed`` (offline sentence embeddings) and ``graph`` (dialogue graphs,
the COGMEN model, MELD training). Nothing here is wired into distillation (docs/cogmen.md).
"""
