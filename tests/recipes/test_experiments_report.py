"""The comparison's bookkeeping: paired fold differences, and results merged across processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeemo.recipes.experiments import _add_paired_deltas


def _row(config: str, kind: str, uas: dict[int, float]) -> dict:
    return {"config": config, "kind": kind,
            "per_fold": [{"fold": f, "test": {"ua": ua}} for f, ua in uas.items()]}


def test_paired_delta_uses_only_folds_both_rows_measured():
    rows = [_row("teacher_av", "teacher", {0: 0.9}), _row("student", "student", {0: 0.50, 1: 0.60, 2: 0.30}),
            _row("student_kd", "student", {0: 0.55, 2: 0.28, 4: 0.99})]
    _add_paired_deltas(rows, reference="student")
    d = rows[2]["delta_ua"]
    assert (d["folds"], d["wins"]) == (2, 1)  # fold 4 has no reference: ignored
    assert d["mean"] == pytest.approx((5.0 - 2.0) / 2)
    assert d["sd"] == pytest.approx(float(np.std([5.0, -2.0], ddof=1)))
    assert "delta_ua" not in rows[0] and "delta_ua" not in rows[1]


def test_an_equal_fold_is_a_tie_not_a_win():
    # 0.46484375 * 100 carries float noise; the same clips right on both sides must not count as a win
    rows = [_row("student", "student", {0: 0.46484375, 1: 0.5}),
            _row("student_x", "student", {0: 0.46484375 + 1e-15, 1: 0.6})]
    _add_paired_deltas(rows, reference="student")
    assert rows[1]["delta_ua"]["wins"] == 1


def test_runners_in_two_processes_do_not_lose_each_others_rows(tmp_path: Path):
    from edgeemo.recipes import experiments

    def bare_runner(results: dict) -> experiments.Runner:
        runner = object.__new__(experiments.Runner)
        runner.cache_file = tmp_path / "fold_results.json"
        runner.results = results
        return runner

    first = bare_runner({"a|fold0|x": {"test": 1}})
    second = bare_runner({"b|fold0|y": {"test": 2}})  # started before `first` saved anything
    first._save()
    second._save()
    assert set(json.loads((tmp_path / "fold_results.json").read_text())) == {"a|fold0|x", "b|fold0|y"}


def test_a_single_fold_has_no_spread():
    from edgeemo.recipes.experiments import _fmt

    rows = [_row("student", "student", {0: 0.50, 1: 0.60}), _row("student_dmd", "student", {1: 0.55})]
    _add_paired_deltas(rows, reference="student")
    assert rows[1]["delta_ua"]["sd"] is None and rows[1]["delta_ua"]["mean"] == pytest.approx(-5.0)
    assert _fmt((54.25, None)) == "54.2" and _fmt((48.4, 9.3)) == "48.4 ± 9.3" and _fmt(None) == "–"
