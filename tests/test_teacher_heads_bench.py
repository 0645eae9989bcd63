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


def test_unknown_variants_are_refused(bench, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        bench.main(["--variants", "standard,robot"])
    assert "unknown variant(s) robot" in capsys.readouterr().err
