"""``edgeemo recipe``: the recipes above train and export, as one click group.

``edgeemo recipe compare`` is :mod:`edgeemo.recipes.experiments` (the five-fold comparison) and
``edgeemo recipe build-default`` is :mod:`edgeemo.recipes.build_default` (the bundled model's
build). Each command lives in its module and is imported only when it runs or shows its own
``--help`` (:mod:`edgeemo.cli.lazy`), so this module imports click and nothing heavy.
"""

from __future__ import annotations

import click
from edgeemo.cli.lazy import LazyCommand, LazyGroupMixin

__all__ = ["RECIPE_COMMANDS", "recipe_group"]

#: The recipe subcommands, by name, loaded from their modules when they run.
RECIPE_COMMANDS: dict[str, LazyCommand] = {
    "compare": LazyCommand("edgeemo.recipes.experiments:compare_command", "train",
                           "The teacher / student / distillation comparison over the five RAVDESS actor folds."),
    "build-default": LazyCommand("edgeemo.recipes.build_default:build_default_command", "train,export",
                                 "Rebuild the bundled default model from the labelled data: one command, same recipe."),
    "whisper-teachers": LazyCommand("edgeemo.recipes.whisper_teachers:whisper_teachers_command", "train",
                                    "Whisper teachers on the five actor folds, clean and degraded."),
    "function-matching": LazyCommand("edgeemo.recipes.function_matching:function_matching_command", "train",
                                     "Tiny student: labels vs function matching with a Whisper teacher, actor folds."),
    "small-student": LazyCommand("edgeemo.recipes.small_student:small_student_command", "train,export",
                                 "Small Whisper student on the five actor folds: choose k, clean, degraded, INT8."),
    "small-finetune": LazyCommand("edgeemo.recipes.small_finetune:small_finetune_command", "train,export",
                                  "Small Whisper student fine-tuned end to end vs frozen, on the five folds (GPU)."),
    "build-small": LazyCommand("edgeemo.recipes.build_small:build_small_command", "train,export",
                               "Rebuild the bundled small model from its five-fold results."),
    "build-tiny": LazyCommand("edgeemo.recipes.build_tiny:build_tiny_command", "train,export",
                              "Build the tiny model from its function-matching folds: scores, final model, card."),
}


class RecipeGroup(LazyGroupMixin, click.Group):
    """The ``recipe`` group: subcommands listed by name, imported lazily."""

    lazy_commands = RECIPE_COMMANDS


@click.group("recipe", cls=RecipeGroup)
def recipe_group() -> None:
    """Recipes above train and export: the five-fold comparison and the build of the bundled model."""
