"""Recipes need the training stack."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="recipe tests need the [train] extra (torch)")
