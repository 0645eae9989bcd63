"""``python -m edgeemo.export.tensorrt …``: the same commands as ``edgeemo export tensorrt …``."""

from __future__ import annotations

from edgeemo.export.tensorrt.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    main()
