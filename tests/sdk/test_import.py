"""`import edgeemo` stays light; a missing onnxruntime names the extra to install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("torch", "torch_geometric", "tensorrt", "sounddevice", "onnx", "onnxruntime", "transformers")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_import_is_light() -> None:
    proc = _run(
        f"""
        import json, sys
        import edgeemo
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


BLOCK_ORT = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "onnxruntime" or name.startswith("onnxruntime."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _Block())
"""


@pytest.mark.parametrize(
    "call",
    ["edgeemo.Recognizer(MODEL)", "edgeemo.available_providers()"],
)
def test_missing_onnxruntime_names_the_extra(call: str, fixture_models) -> None:
    proc = _run(
        BLOCK_ORT
        + f"""
import edgeemo
MODEL = {str(fixture_models["valid"])!r}
try:
    {call}
except edgeemo.MissingDependencyError as exc:
    assert isinstance(exc, ImportError)
    print("MSG:" + str(exc))
else:
    raise SystemExit("no MissingDependencyError")
"""
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    msg = proc.stdout.split("MSG:", 1)[1]
    assert "onnxruntime" in msg and 'pip install "edgeemo[cpu]"' in msg


def test_public_names() -> None:
    import edgeemo

    for name in (
        "Recognizer", "RecognizerOptions", "Stream", "StreamOptions", "EmotionResult",
        "WindowScores", "Timing", "ModelInfo", "load_audio", "default_model_path",
        "available_providers", "errors", "EdgeEmoError", "__version__",
    ):
        assert hasattr(edgeemo, name), name
        assert name in edgeemo.__all__
    assert "listen" in edgeemo.__all__ and "listen" in dir(edgeemo)
    # The error classes live in edgeemo.errors; only the base class is in edgeemo.__all__, the
    # others still resolve as edgeemo.<Name> for compatibility.
    for name in edgeemo.errors.__all__:
        assert getattr(edgeemo, name) is getattr(edgeemo.errors, name)
        assert (name in edgeemo.__all__) == (name == "EdgeEmoError"), name
    for name in edgeemo.__all__:
        assert name in dir(edgeemo), name
    from edgeemo._version import __version__

    assert edgeemo.__version__ == __version__
    with pytest.raises(AttributeError):
        edgeemo.no_such_name  # noqa: B018


def test_listen_is_lazy() -> None:
    proc = _run(
        """
        import sys, edgeemo
        assert "edgeemo.microphone" not in sys.modules
        assert callable(edgeemo.listen)
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr
