"""A private PulseAudio server with a virtual microphone, for tests (see shared/design/VIRTUAL_MIC.md).

Machines here have no sound card. A user-space PulseAudio server with a null sink (``vsink``) and a
remapped monitor source (``vmic``, the default source) gives PortAudio, hence ``sounddevice``, a
real capture device: whatever is played into ``vsink`` (``paplay``) is what the "microphone" hears.

Reuse from another test folder's ``conftest.py``::

    import importlib.util, sys
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("edgeemo_test_pulse", Path(".../tests/e2e/pulse.py"))
    pulse = importlib.util.module_from_spec(spec); sys.modules[spec.name] = pulse; spec.loader.exec_module(pulse)

    @pytest.fixture(scope="session")
    def virtual_mic(tmp_path_factory):
        yield from pulse.virtual_mic_session(tmp_path_factory)

The server lives in its own temporary directory; nothing is written to ``$HOME`` or ``/run``.
Every client process needs ``PULSE_SERVER`` in its environment: use :attr:`VirtualMic.env`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "APT_PACKAGES",
    "PulseUnavailable",
    "VirtualMic",
    "start_virtual_mic",
    "virtual_mic_session",
]

#: Debian packages the virtual microphone needs.
APT_PACKAGES = ("libportaudio2", "pulseaudio", "pulseaudio-utils", "libasound2-plugins")

_CONFIG = """\
load-module module-native-protocol-unix auth-anonymous=1 socket={root}/native
load-module module-null-sink sink_name={sink} rate={rate} channels={channels} format=s16le
load-module module-remap-source master={sink}.monitor source_name={source}
set-default-sink {sink}
set-default-source {source}
"""


class PulseUnavailable(RuntimeError):
    """PulseAudio (or its tools) is missing or the server could not start; the message says why."""


@dataclass
class VirtualMic:
    """A running private PulseAudio server: ``vsink`` (play here) and ``vmic`` (record from here)."""

    root: Path
    rate: int = 16000
    channels: int = 1
    sink: str = "vsink"
    source: str = "vmic"
    _keepalive: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _players: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def server(self) -> str:
        """The ``PULSE_SERVER`` value of this server."""
        return f"unix:{self.root}/native"

    @property
    def env_vars(self) -> dict[str, str]:
        """Only the variables a client needs (``PULSE_SERVER``, ``XDG_RUNTIME_DIR``)."""
        return {"PULSE_SERVER": self.server, "XDG_RUNTIME_DIR": str(self.root / "run")}

    @property
    def env(self) -> dict[str, str]:
        """A full environment for a client subprocess: ``os.environ`` plus :attr:`env_vars`."""
        return {**os.environ, **self.env_vars}

    def pactl(self, *args: str, timeout: float = 10.0) -> str:
        """Run ``pactl`` against this server and return its standard output."""
        proc = subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise PulseUnavailable(f"pactl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def play(self, path: str | os.PathLike[str], *, delay_s: float = 0.0) -> subprocess.Popen[bytes]:
        """Play ``path`` into the sink with ``paplay`` (after ``delay_s``), without waiting for it."""
        cmd = ["paplay", f"--device={self.sink}", str(path)]
        if delay_s > 0:
            cmd = ["sh", "-c", f'sleep {delay_s:.3f} && exec "$@"', "play", *cmd]
        proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._players.append(proc)
        return proc

    def is_running(self) -> bool:
        """True while the server answers."""
        try:
            self.pactl("info", timeout=5.0)
        except (PulseUnavailable, subprocess.TimeoutExpired):
            return False
        return True

    def stop(self) -> None:
        """Stop players, the keep-alive and the server (by pid / ``pulseaudio --kill``)."""
        for proc in [*self._players, *([self._keepalive] if self._keepalive else [])]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._players.clear()
        self._keepalive = None
        subprocess.run(
            ["pulseaudio", "--kill"], env=self.env, capture_output=True, timeout=10, check=False
        )
        pid = _server_pid(self.root)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _server_pid(root: Path) -> int | None:
    pid_file = root / "run" / "pulse" / "pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def missing_tools() -> list[str]:
    """Names of the command-line tools the virtual microphone needs that are not on ``PATH``."""
    return [tool for tool in ("pulseaudio", "pactl", "pacat", "paplay") if shutil.which(tool) is None]


def start_virtual_mic(
    root: str | os.PathLike[str],
    *,
    rate: int = 16000,
    channels: int = 1,
    timeout_s: float = 15.0,
    settle_s: float = 2.0,
) -> VirtualMic:
    """Start a private server in ``root`` (created if needed); raise :class:`PulseUnavailable`.

    ``settle_s`` waits after the keep-alive starts, so the null sink renders in small blocks before
    a capture stream opens (an idle sink renders 2 s blocks and a new capture loses its start).
    """
    missing = missing_tools()
    if missing:
        raise PulseUnavailable(
            f"{', '.join(missing)} not found: apt-get install -y --no-install-recommends "
            + " ".join(APT_PACKAGES)
        )
    root_path = Path(root).resolve()
    # The unix socket path must stay under ~108 bytes.
    if len(str(root_path / "native")) > 100:
        raise PulseUnavailable(f"temporary directory path too long for a unix socket: {root_path}")
    (root_path / "run").mkdir(parents=True, exist_ok=True)
    (root_path / "home").mkdir(exist_ok=True)
    config = root_path / "default.pa"
    config.write_text(
        _CONFIG.format(root=root_path, rate=rate, channels=channels, sink="vsink", source="vmic")
    )
    mic = VirtualMic(root=root_path, rate=rate, channels=channels)
    env = {**mic.env, "HOME": str(root_path / "home")}
    log = root_path / "pulseaudio.log"
    with open(log, "wb") as fh:
        proc = subprocess.run(
            [
                "pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n",
                f"--file={config}", "--log-target=stderr",
            ],
            env=env, stdout=fh, stderr=fh, timeout=timeout_s, check=False,
        )
    if proc.returncode != 0:
        raise PulseUnavailable(
            f"pulseaudio did not start (exit {proc.returncode}): {_tail(log)}"
        )
    deadline = time.monotonic() + timeout_s
    while not mic.is_running():
        if time.monotonic() > deadline:
            mic.stop()
            raise PulseUnavailable(f"pulseaudio started but does not answer: {_tail(log)}")
        time.sleep(0.1)
    mic._keepalive = subprocess.Popen(
        [
            "pacat", "--playback", "--latency-msec=20", f"--device={mic.sink}",
            f"--rate={rate}", f"--channels={channels}", "--format=s16le", "--raw", "/dev/zero",
        ],
        env=mic.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(settle_s)
    if mic._keepalive.poll() is not None:
        mic.stop()
        raise PulseUnavailable("the pacat keep-alive exited at once")
    return mic


def _tail(path: Path, n: int = 600) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-n:] or "(empty log)"


def virtual_mic_session(tmp_path_factory: Any = None, **kwargs: Any) -> Iterator[VirtualMic]:
    """Body of a session fixture: start a server, set ``PULSE_SERVER`` for this process, stop it.

    The server lives in a fresh private directory under the system temporary folder (kept short:
    unix socket paths are limited to 108 bytes; ``tmp_path_factory`` is accepted for symmetry and
    unused). Skips (with the reason) only where PulseAudio cannot start. ``sounddevice`` caches
    PortAudio's device list when it is imported, so an in-process test must call
    :func:`refresh_portaudio` after this fixture changed the environment.
    """
    import tempfile

    import pytest

    root = Path(tempfile.mkdtemp(prefix="edgeemo-pa-"))
    try:
        mic = start_virtual_mic(root, **kwargs)
    except (PulseUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PulseAudio virtual microphone unavailable: {exc}")
    saved = {key: os.environ.get(key) for key in mic.env_vars}
    os.environ.update(mic.env_vars)
    try:
        yield mic
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        mic.stop()
        shutil.rmtree(root, ignore_errors=True)


def refresh_portaudio() -> None:
    """Re-initialise PortAudio in this process so ``sounddevice`` sees the current server."""
    import sounddevice as sd

    sd._terminate()  # noqa: SLF001 - the documented way to rescan devices
    sd._initialize()  # noqa: SLF001
