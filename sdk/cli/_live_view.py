"""The live terminal view of ``edgeemo listen`` (rich): emotion, confidence, bars, speech, overflows.

A window that is not speech shows "NO SPEECH" (never an emotion); the last speech result's bars stay
visible, faded, for ``hold_s`` seconds of stream time after it, then clear. Before the first speech
nothing is shown as an emotion.
"""

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
    *,
    last_speech: EmotionResult | None = None,
    hold_s: float = 2.0,
) -> Any:
    """A rich renderable of the current state: ``result`` is the newest result, ``last_speech``
    the newest result that had an emotion (shown faded for ``hold_s`` s after it when ``result``
    is not speech)."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    head = Text()
    shown: EmotionResult | None = None  # whose scores the bars show
    faded = False
    if result is None:
        head.append("waiting for the first window…", style="dim")
    elif not result.is_speech:
        head.append(f"{'NO SPEECH':<10}", style="bold grey50")
        head.append("         ")
        head.append("○ no speech", style="dim")
        head.append(f" ({result.speech_prob * 100:3.0f} %)", style="dim")
        head.append(f"   {result.start_s:7.2f}–{result.end_s:.2f} s", style="dim")
        if last_speech is not None and result.end_s - last_speech.end_s <= hold_s:
            shown, faded = last_speech, True
            ago = max(result.end_s - last_speech.end_s, 0.0)
            head.append(
                f"\nlast: {last_speech.label} {last_speech.confidence * 100:.0f} % ({ago:.1f} s ago)",
                style="dim",
            )
    else:
        shown = result
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
        score = float(shown.scores.get(lab, 0.0)) if shown is not None else 0.0
        style = LABEL_COLOURS.get(lab, "white")
        if faded:
            style = "grey42"
        elif shown is not None and lab == shown.label:
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
        self,
        source: str,
        labels: Sequence[str],
        stats: Callable[[], ListenSnapshot | None],
        *,
        hold_s: float = 2.0,
    ) -> None:
        self.source, self.labels, self._stats = source, list(labels), stats
        self.hold_s = float(hold_s)
        self.last: EmotionResult | None = None
        self.last_speech: EmotionResult | None = None
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
        return render(
            self.source, self.labels, self.last, self._stats(), self.count,
            last_speech=self.last_speech, hold_s=self.hold_s,
        )

    def update(self, result: EmotionResult) -> None:
        """Show a new result."""
        self.last = result
        if result.is_speech:
            self.last_speech = result
        self.count += 1
        self._live.update(self._render())
