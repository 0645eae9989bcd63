"""bench/five_fold.py: the bundled models' five-fold sections that end the benchmark and robustness
pages, read from the committed results (the shipped tiny's build report, the small's results)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("edgeemo.recipes.build_tiny", reason="needs the [train] extra")


@pytest.fixture(scope="module")
def five_fold(test_module_loader, repo_root: Path):  # type: ignore[no-untyped-def]
    return test_module_loader("edgeemo_bench_five_fold", repo_root / "bench" / "five_fold.py")


def test_the_tiny_section_is_the_shipped_builds_numbers(five_fold, repo_root: Path) -> None:  # type: ignore[no-untyped-def]
    report = json.loads((repo_root / "docs" / "results" / "tiny_build.json").read_text())
    lines = five_fold.tiny_section()
    text = "\n".join(lines)
    fp32 = report["summary"]["fp32"]
    row = next(line for line in lines if line.startswith(f"| tiny ({report['row']}), FP32 (shipped) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{fp32['ua']['clean']:.1f}" and cells[-2] == f"{fp32['mean_degraded']:.1f}"
    assert cells[-1].startswith(f"{fp32['worst']:.1f} (")  # the worst degraded condition, named
    assert f"Clean FP32 {fp32['ua']['clean']:.1f} ± {fp32['clean_sd']:.1f}" in text
    assert "MODEL_CARD_tiny.md" in text


def test_both_pages_end_with_the_sections_as_rendered_now(five_fold, repo_root: Path) -> None:  # type: ignore[no-untyped-def]
    section = "\n".join(five_fold.five_fold_section())
    assert "## The small model: five actor folds" in section and "## The tiny model: five actor folds" in section
    for page in five_fold.PAGES:
        text = (repo_root / page).read_text()
        assert text.endswith(section), f"{page} does not end with the sections as rendered now: python bench/five_fold.py"


def test_the_command_rewrites_only_the_sections(five_fold, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = five_fold.five_fold_section()  # the repo's results; the pages are copies in tmp_path
    section = "\n".join(lines)
    pages = [tmp_path / p for p in five_fold.PAGES]
    for page in pages:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"# bench\n\nits own table\n\n{five_fold.FIRST_HEADING}\n\nold numbers 67.0\n")
    monkeypatch.setattr(five_fold, "REPO", tmp_path)
    with pytest.raises(SystemExit, match="build the models first"):  # no results under tmp_path: nothing is cut
        five_fold.main()
    assert all(p.read_text().endswith("old numbers 67.0\n") for p in pages)
    for name in ("small_section", "tiny_section", "five_fold_section"):  # as if the results were there
        monkeypatch.setattr(five_fold, name, lambda: lines)
    five_fold.main()
    for page in pages:
        assert page.read_text() == "# bench\n\nits own table\n\n" + section
    pages[0].write_text("# no sections yet\n")
    with pytest.raises(SystemExit, match="run its bench first"):
        five_fold.main()
    pages[0].unlink()
    with pytest.raises(SystemExit, match="is missing"):
        five_fold.main()


def test_no_build_report_no_section(five_fold, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(five_fold, "REPO", tmp_path)
    assert five_fold.tiny_section() == [] and five_fold.small_section() == []


def test_condition_labels(five_fold) -> None:  # type: ignore[no-untyped-def]
    assert [five_fold.condition_label(c) for c in ("floor_-50dBFS", "babble_10dB", "clean")] == [
        "floor -50dBFS", "babble 10dB", "clean"]
