"""The live terminal view of ``edgeemo listen`` (rich): emotion, confidence, bars, speech, overflows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..microphone import ListenSnapshot
    from ..results import EmotionResult

#: A colour per label (others fall back to white).
LABEL_COLOURS = {
    "neutral": "white",
    "calm": "cyan",
    "happy": "yellow",
    "sad": "blue",
    "angry": "red",
    "fear": "magenta",
    "disgust": "green",
    "surprise": "bright_yellow",
    "boredom": "grey62",
}

BAR_WIDTH = 30


def _bar(value: float, width: int = BAR_WIDTH) -> str:
    value = min(max(value, 0.0), 1.0)
    full = int(round(value * width))
    return "█" * full + "·" * (width - full)


def render(
    source: str,
    labels: Sequence[str],
    result: EmotionResult | None,
    stats: ListenSnapshot | None,
    n_results: int,
) -> Any:
    """A rich renderable of the current state."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    head = Text()
    if result is None:
        head.append("waiting for the first window…", style="dim")
    else:
        colour = LABEL_COLOURS.get(result.label, "white")
        head.append(f"{result.label.upper():<10}", style=f"bold {colour}")
        head.append(f" {result.confidence * 100:5.1f} %  ")
        if result.is_speech:
            head.append("● speech", style="bold green")
        else:
            head.append("○ no speech", style="dim")
        head.append(f" ({result.speech_prob * 100:3.0f} %)", style="dim")
        head.append(f"   {result.start_s:7.2f}–{result.end_s:.2f} s", style="dim")
        if result.valence is not None and result.arousal is not None:
            head.append(f"\nvalence {result.valence:+.2f}   arousal {result.arousal:+.2f}")

    bars = Table.grid(padding=(0, 1))
    bars.add_column(justify="right", no_wrap=True)
    bars.add_column(no_wrap=True)
    bars.add_column(justify="right", no_wrap=True)
    for lab in labels:
        score = float(result.scores.get(lab, 0.0)) if result is not None else 0.0
        style = LABEL_COLOURS.get(lab, "white")
        if result is not None and lab == result.label:
            style = f"bold {style}"
        bars.add_row(Text(lab, style=style), Text(_bar(score), style=style), f"{score * 100:5.1f} %")

    foot = Text(style="dim")
    foot.append(f"{n_results} results")
    if stats is not None:
        foot.append(f" · {stats.seconds_captured:6.1f} s captured")
        foot.append(" · overflows ")
        foot.append(str(stats.overflows), style="bold red" if stats.overflows else "dim")
    foot.append(" · Ctrl-C to stop")

    body = Table.grid()
    body.add_row(head)
    body.add_row("")
    body.add_row(bars)
    body.add_row("")
    body.add_row(foot)
    return Panel(body, title=f"edgeemo listen — {source}", title_align="left")


class LiveView:
    """Context manager that redraws :func:`render` a few times a second."""

    def __init__(
        self, source: str, labels: Sequence[str], stats: Callable[[], ListenSnapshot | None]
    ) -> None:
        self.source, self.labels, self._stats = source, list(labels), stats
        self.last: EmotionResult | None = None
        self.count = 0
        self._live: Any = None

    def __enter__(self) -> LiveView:
        from rich.console import Console
        from rich.live import Live

        self._live = Live(
            self._render(), console=Console(), refresh_per_second=8, transient=False
        )
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._live.update(self._render())
        self._live.__exit__(*exc)

    def _render(self) -> Any:
        return render(self.source, self.labels, self.last, self._stats(), self.count)

    def update(self, result: EmotionResult) -> None:
        """Show a new result."""
        self.last = result
        self.count += 1
        self._live.update(self._render())
