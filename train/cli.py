"""``edgeemo train`` and ``edgeemo eval``: the heavy commands, imported only when called."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click

from edgeemo.errors import ConfigError


def _parse_overrides(items: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE (JSON value), got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@click.command("train")
@click.option("--out", "out_dir", default="runs/student", show_default=True, help="Run folder (checkpoints, plots).")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ (default: $EDGEEMO_DATA or ../shared/data).")
@click.option("--epochs", type=int, default=None, help="Number of epochs.")
@click.option("--seed", type=int, default=None, help="Random seed.")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None, help="JSON file of TrainConfig fields.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override one TrainConfig field (JSON value).")
def train_command(out_dir: str, data_root: str | None, epochs: int | None, seed: int | None, threads: int | None,
                  config_file: str | None, overrides: tuple[str, ...]) -> None:
    """Train the speech-only student (resumes from OUT/last if it exists)."""
    from .distributed import is_main_process
    from .trainer import StudentTrainer, TrainConfig

    fields: dict[str, object] = json.loads(Path(config_file).read_text()) if config_file else {}
    fields.update(_parse_overrides(overrides))
    fields["out_dir"] = out_dir
    for key, value in (("data_root", data_root), ("epochs", epochs), ("seed", seed), ("num_threads", threads)):
        if value is not None:
            fields[key] = value
    result = StudentTrainer(TrainConfig.from_dict(fields)).fit()
    if is_main_process():  # under torchrun, one summary line
        click.echo(f"best epoch {result.best_epoch}: dev {result.dev}; {result.parameters} parameters; "
                   f"{result.seconds:.0f} s; checkpoint {result.best_dir}")


@click.command("eval")
@click.argument("model", type=click.Path(exists=True))
@click.option("--split", "splits", multiple=True, default=("test",), show_default=True, help="Split(s) to evaluate: train, dev, test.")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/.")
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write a confusion-matrix PNG here.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def eval_command(model: str, splits: tuple[str, ...], data_root: str | None, threads: int, plot: str | None, as_json: bool) -> None:
    """Evaluate an ONNX model (through the SDK) or a student checkpoint folder on RAVDESS splits."""
    from .evaluate import evaluate_model

    report = evaluate_model(model, splits=splits, data_root=data_root, num_threads=threads, plot=plot)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(f"{report.model} on {','.join(report.splits)}: {report.scores}")
