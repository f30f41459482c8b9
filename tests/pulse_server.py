"""A private PulseAudio daemon with null sinks, for tests and bench/live_latency.py.

    with PulseServer(["agent_line", "customer_line"]) as pa:
        pa.play({"agent_line": agent_samples, "customer_line": customer_samples})
        ... capture pulse:agent_line.monitor and pulse:customer_line.monitor ...
        pa.unload("customer_line")       # the device vanishes mid-call

It runs in user mode (also as root) with its own runtime dir, and points PULSE_SERVER of
this process at it while open. ``PulseServer.unavailable()`` says why it cannot run, if so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping

import numpy as np

RATE_HZ = 16000


class PulseServer:
    def __init__(self, sinks: list[str]) -> None:
        self.sinks = list(sinks)
        self._dir = Path(tempfile.mkdtemp(prefix="rapport-pulse-"))
        self.socket = self._dir / "native"
        self.server = f"unix:{self.socket}"
        self._proc: subprocess.Popen | None = None
        self._players: list[subprocess.Popen] = []
        self._saved_env: dict[str, str | None] = {}

    @staticmethod
    def unavailable() -> str | None:
        for tool in ("pulseaudio", "pactl", "pacat"):
            if shutil.which(tool) is None:
                return f"{tool} is not installed (scripts/setup.sh installs pulseaudio and pulseaudio-utils)"
        return None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(self._dir),
            PULSE_RUNTIME_PATH=str(self._dir),
            HOME=str(self._dir),
            PULSE_SERVER=self.server,
        )
        env.pop("PULSE_SOURCE", None)
        return env

    def __enter__(self) -> "PulseServer":
        cmd = [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--system=false",
            "--disallow-exit",
            "--use-pid-file=no",
            "--log-target=stderr",
            "-L",
            f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
        ]
        for sink in self.sinks:
            cmd += ["-L", f"module-null-sink sink_name={sink} rate={RATE_HZ} channels=1"]
        self._log = open(self._dir / "pulse.log", "wb")
        self._proc = subprocess.Popen(cmd, env=self._env(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.pactl("info").returncode == 0:
                for key in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH"):
                    self._saved_env[key] = os.environ.get(key)
                os.environ["PULSE_SERVER"] = self.server
                reread_portaudio_devices()  # this process may have started PortAudio before the server
                return self
            time.sleep(0.1)
        log = (self._dir / "pulse.log").read_text(errors="replace")[-500:]
        self.__exit__(None, None, None)
        raise RuntimeError(f"pulseaudio did not start: {log}")

    def __exit__(self, *exc) -> None:
        self.stop_playing()
        # Close PortAudio while the server still answers: Pa_Terminate closing a stream whose
        # server is already gone can wait forever on PulseAudio's lock (seen once in CI).
        sd = _sounddevice()
        if sd is not None:
            sd._terminate()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        if sd is not None:
            sd._initialize()  # the devices as they are now that this server is gone

    def pactl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self._env(), capture_output=True, text=True, timeout=10)

    def play(self, audio: Mapping[str, np.ndarray]) -> None:
        """Start playing each mono 16 kHz array into its sink (real time, all at once)."""
        for sink, samples in audio.items():
            proc = subprocess.Popen(
                [
                    "pacat",
                    "--playback",
                    f"--device={sink}",
                    f"--rate={RATE_HZ}",
                    "--channels=1",
                    "--format=float32le",
                    "--latency-msec=100",
                ],
                env=self._env(),
                stdin=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._players.append(proc)
            self._feed(proc, np.asarray(samples, dtype=np.float32))

    def play_looped(self, audio: Mapping[str, np.ndarray], repeats: int) -> None:
        """Like ``play``, ``repeats`` times over, fed from files by a shell loop (the audio is
        not held in this process, so a long soak does not inflate its memory)."""
        for sink, samples in audio.items():
            raw = self._dir / f"{sink}.f32"
            np.asarray(samples, dtype="<f4").tofile(raw)
            feeder = f'i=0; while [ $i -lt {int(repeats)} ]; do cat "{raw}"; i=$((i+1)); done'
            cmd = (
                f"({feeder}) | pacat --playback --device={sink} --rate={RATE_HZ} --channels=1 "
                "--format=float32le --latency-msec=100"
            )
            self._players.append(subprocess.Popen(["sh", "-c", cmd], env=self._env(), stderr=subprocess.DEVNULL))

    @staticmethod
    def _feed(proc: subprocess.Popen, samples: np.ndarray) -> None:
        import threading

        def write() -> None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(samples.astype("<f4").tobytes())
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass

        threading.Thread(target=write, daemon=True).start()

    def wait_played(self, timeout_s: float) -> None:
        for proc in self._players:
            proc.wait(timeout=timeout_s)

    def stop_playing(self) -> None:
        for proc in self._players:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._players.clear()

    def unload(self, sink: str) -> None:
        """Unload the null sink ``sink`` (its monitor source disappears, as if unplugged)."""
        modules = self.pactl("list", "short", "modules").stdout
        for line in modules.splitlines():
            if f"sink_name={sink}" in line:
                self.pactl("unload-module", line.split()[0])
                return
        raise KeyError(sink)


def reread_portaudio_devices() -> None:
    """PortAudio lists its devices once, when sounddevice is imported: re-read them (sounddevice's
    own way, as the sidebar does between calls) so this process sees the sound server as it is
    now, whichever test imported sounddevice first."""
    sd = _sounddevice()
    if sd is not None:
        sd._terminate()
        sd._initialize()


def _sounddevice():
    """sounddevice if some test already imported it (importing it starts PortAudio), else None."""
    import sys

    return sys.modules.get("sounddevice")
