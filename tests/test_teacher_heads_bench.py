"""bench/teacher_heads.py: the table it writes and what it refuses (the five-fold run itself is a
benchmark, far too long for a test; its code path is the recipe's Teacher, tested there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

CONDITIONS = ("clean", "babble_10dB", "reverb_0.6s")


@pytest.fixture(scope="module")
def bench(test_module_loader, repo_root: Path):  # type: ignore[no-untyped-def]
    return test_module_loader("edgeemo_bench_teacher_heads", repo_root / "bench" / "teacher_heads.py")


def test_render_pairs_every_variant_with_the_standard_teacher(bench) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    ref = {k: {c: float(rng.uniform(40, 80)) for c in CONDITIONS} for k in range(5)}
    better = {k: {c: v + (3.0 if c == "babble_10dB" else 0.0) - (1.0 if k == 4 and c == "clean" else 0.0)
                  for c, v in u.items()} for k, u in ref.items()}
    text = bench.render({"standard": ref, "babble4_ckd": better}, [0, 1], "--x")
    row = next(line for line in text.splitlines() if line.startswith("| `babble4_ckd`"))
    assert "4 standard + 4 babble, refitted to its clean-clip outputs (weight 0.5)" in row
    assert row.endswith("| -0.2 (0/5) | +1.5 (5/5) |")  # clean −1 on one fold; degraded +3 on one of two conditions
    assert "| `standard` | 4 standard |" in text and "(2 seed(s) per fold)" in text
    text = bench.render({"standard": ref, "babble4_ckd_x3": better}, [0], "--x")
    assert "| `babble4_ckd_x3` | 4 standard + 4 babble, refitted to its clean-clip outputs (weight 0.5), mean of 3 heads |" in text


def test_a_variant_is_the_teacher_of_the_recipe_rows_with_its_views(bench) -> None:  # type: ignore[no-untyped-def]
    from edgeemo.recipes.function_matching import ROW_BY_NAME, view_sets_of

    assert view_sets_of(bench.VARIANTS["babble4_ckd"].views) == \
        ROW_BY_NAME["student_fm_b1_tbabble_ckd_stream_x4"].teacher_view_sets(4)
    assert view_sets_of(bench.VARIANTS["standard"].views) == ROW_BY_NAME["student_fm_stream_x4"].teacher_view_sets(4)
    assert [(v.tag, v.seeds) for v in view_sets_of([("babble", 1), ("standard", 2), ("babble", 2)])] == [
        ("view-babble", (1,)), ("view", (1, 2)), ("view-babble", (2, 3))]  # no view twice


@pytest.mark.parametrize(("argv", "message"), [
    (["--variants", "standard,robot"], "unknown variant(s) robot"),
    (["--variants", ","], "(none given)"),
    (["--seeds", "0,x"], "comma-separated integers"),
    (["--folds", "0,7"], "--folds must be in 0..4"),
])
def test_bad_options_are_refused_with_a_message(bench, capsys, argv, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_missing_data_ends_in_a_message_not_a_traceback(bench, capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--variants", "standard", "--folds", "0", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2 and capsys.readouterr().err.startswith("teacher_heads: ")
    assert not (tmp_path / "out.md").exists()
