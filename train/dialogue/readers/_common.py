"""Helpers shared by the dataset readers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from ..data import DialogueDataError


def read_csv_rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Read a CSV with a header into dicts; check ``required`` columns.

    Tries UTF-8 (with or without BOM) first, then cp1252: some older copies of the MELD CSVs
    were saved in a Windows code page.
    """
    if not path.is_file():
        raise FileNotFoundError(f"missing file {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise DialogueDataError(f"{path}: missing column(s) {missing}; found {header}")
    return [dict(row) for row in reader]


def parse_int(value: str, where: str) -> int:
    """``int(value)`` with an error that says where the bad value came from."""
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise DialogueDataError(f"{where}: expected an integer, got {value!r}") from exc
