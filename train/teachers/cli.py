"""``teacher-features``: fill the Whisper feature cache for the RAVDESS clips (one command)."""

from __future__ import annotations

import click


@click.command("teacher-features")
@click.option("--size", default="tiny.en", show_default=True,
              help="Whisper size from its installed pip package: tiny.en or base.")
@click.option("--model-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="A CTranslate2 or Hugging Face Whisper folder (instead of the installed package).")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ (default: $EDGEEMO_DATA or ../shared/data).")
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
def whisper_features_command(size: str, model_dir: str | None, data_root: str | None, threads: int) -> None:
    """Pooled Whisper features of every RAVDESS clip into the cache ($EDGEEMO_CACHE/whisper)."""
    from ..config import set_torch_threads
    from ..data import load_ravdess
    from .whisper import load_whisper_encoder
    from .whisper_features import extract_whisper_features

    set_torch_threads(threads)
    utterances = load_ravdess(data_root)
    encoder = load_whisper_encoder(model_dir, size=size)
    result = extract_whisper_features(utterances, encoder=encoder, progress=True)
    rate = f"{result.computed / result.seconds:.1f} clips/s ({result.seconds / result.computed:.3f} s/clip)" \
        if result.computed else "nothing to compute"
    click.echo(f"{len(utterances)} clips, {result.computed} computed: {rate}, {threads} thread(s); "
               f"features {tuple(result.features.shape)} in {result.folder}")
