"""One JSON schema for the Python and C++ command lines (docs/cli_output_schema.json).

    python check_json_schema.py SCHEMA CPP_EXE MODEL CLIP...

Runs ``python -m edgeemo.cli.main classify --format jsonl --model MODEL CLIP...`` (this
interpreter) and ``CPP_EXE --json --model MODEL CLIP...`` (the C++ example ``edgeemo-classify``),
then checks that every line of both follows the schema, that both have the same keys in the same
order, and that they agree on the label, scores, speech_prob and is_speech (and that files named
``nonspeech_*`` are labelled ``no_speech`` by both). ctest ``json_schema_python_equals_cpp`` runs
it on real clips; tests/sdk/test_cli.py uses :func:`schema_problems` for the Python side alone.
Exit status 0 when all holds, 1 otherwise (the problems are printed).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

_TYPES: dict[str, Any] = {
    "string": str, "object": dict, "array": list, "boolean": bool, "null": type(None),
}


def _has_type(value: Any, name: str) -> bool:
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, _TYPES[name])


def _value_problems(key: str, value: Any, spec: dict[str, Any]) -> list[str]:
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    if not any(_has_type(value, t) for t in types):
        return [f"{key}={value!r} is not of type {'/'.join(types)}"]
    if _has_type(value, "number"):
        lo, hi = spec.get("minimum", -math.inf), spec.get("maximum", math.inf)
        if not lo - 1e-6 <= value <= hi + 1e-6:
            return [f"{key}={value!r} is outside [{lo}, {hi}]"]
    if isinstance(value, dict) and "additionalProperties" in spec:
        return [p for k, v in value.items() for p in _value_problems(f"{key}.{k}", v, spec["additionalProperties"])]
    return []


def schema_problems(record: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What in one output line does not follow ``schema`` (an empty list when all does)."""
    props = schema["properties"]
    problems = [f"missing key {k!r}" for k in schema["required"] if k not in record]
    problems += [f"unknown key {k!r}" for k in record if k not in props]
    for key, value in record.items():
        if key in props:
            problems += _value_problems(key, value, props[key])
    return problems


def _run(argv: list[str]) -> list[dict[str, Any]]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _close(a: Any, b: Any, tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) <= tol


def _pair_problems(py: dict[str, Any], cpp: dict[str, Any]) -> list[str]:
    where = py.get("path", "?")
    problems = []
    if list(py) != list(cpp):
        problems.append(f"{where}: keys differ: Python {list(py)} vs C++ {list(cpp)}")
    if py.get("label") != cpp.get("label"):
        problems.append(f"{where}: label {py.get('label')} (Python) vs {cpp.get('label')} (C++)")
    for lab, p in py.get("scores", {}).items():
        if not _close(p, cpp.get("scores", {}).get(lab), 1e-4):
            problems.append(f"{where}: score {lab} {p} (Python) vs {cpp.get('scores', {}).get(lab)} (C++)")
    for key in ("start_s", "end_s", "valence", "arousal", "speech_prob", "confidence"):
        if not _close(py.get(key), cpp.get(key), 1e-3):
            problems.append(f"{where}: {key} {py.get(key)} (Python) vs {cpp.get(key)} (C++)")
    if py.get("is_speech") is not cpp.get("is_speech"):
        problems.append(f"{where}: is_speech {py.get('is_speech')} (Python) vs {cpp.get('is_speech')} (C++)")
    if Path(str(where)).name.startswith("nonspeech_"):  # tests/cpp/make_non_speech.py
        for name, rec in (("Python", py), ("C++", cpp)):
            if rec.get("label") != "no_speech" or rec.get("is_speech") is not False or rec.get("confidence") != 0:
                problems.append(f"{where}: {name} labels non-speech {rec.get('label')!r} "
                                f"(confidence {rec.get('confidence')}, is_speech {rec.get('is_speech')})")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    schema = json.loads(Path(argv[0]).read_text())
    exe, model, clips = argv[1], argv[2], argv[3:]
    py = _run([sys.executable, "-m", "edgeemo.cli.main", "classify", "--format", "jsonl", "--model", model, *clips])
    cpp = _run([exe, "--json", "--model", model, *clips])
    problems = [] if len(py) == len(cpp) == len(clips) else [f"{len(py)} Python / {len(cpp)} C++ lines for {len(clips)} clips"]
    for name, rows in (("Python", py), ("C++", cpp)):
        problems += [f"{name} {r.get('path')}: {p}" for r in rows for p in schema_problems(r, schema)]
    for a, b in zip(py, cpp):
        problems += _pair_problems(a, b)
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"{len(py)} clip(s), keys {list(py[0]) if py else []}: {'OK' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
