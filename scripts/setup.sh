#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu machine: system packages, .venv, pinned Python packages.
# Idempotent and quick when nothing changed. Called by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.setup-stamp

# Debian packages: the venv module, espeak-ng (test fixtures and the demo-call generator), flite
# (more voices for the spoken dev set, scripts/make_spoken_dev.py),
# sox (audio checks in scripts), PortAudio with the ALSA pulse plugin (live capture: libportaudio2,
# libasound2-plugins) and PulseAudio (live tests and bench run a private server with null sinks).
# PyAV and onnxruntime wheels bundle their own native code.
# The sidebar (PySide6 wheels bring Qt itself) needs the X11/xcb, EGL/GL, font and D-Bus libraries
# Qt's xcb plugin links to, a font, and Xvfb + xauth for the screenshot script and headless tests;
# openbox: a real window manager on that Xvfb, for the tests that the panel never takes the keyboard.
# chromium: tests open the QA report in headless Chromium (and the README's report screenshot).
# desktop-file-utils: desktop-file-validate, the tests' check of the menu and login entries (launcher.py).
# weston, xwayland: a real Wayland session (headless) for the tests of the panel on Wayland desktops.
# locales: glibc's locale sources, for the test that lists PulseAudio's sources on a German desktop
# (pactl translates its listing).
# gcc, libc6-dev, python3-dev: the rule engine compiled by mypyc (src/rapport_assist/_compiled.py;
# without them the plain Python modules run, with the same results).
APT_PACKAGES=(python3-venv gcc libc6-dev python3-dev espeak-ng flite sox libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libfreetype6 libdbus-1-3 fonts-dejavu-core
  libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-shm0 libxcb-sync1
  libxcb-util1 libxcb-xfixes0 libxcb-xkb1 xvfb xauth openbox chromium desktop-file-utils
  weston xwayland locales)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: install them with:  sudo apt-get install -y ${missing[*]}" >&2
    if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then exit 1; fi
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

want=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "setup: installing pinned Python packages into $VENV (first run takes a minute)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.lock
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$STAMP"
  echo "setup: done"
  if [ ! -e "${XDG_DATA_HOME:-$HOME/.local/share}/applications/rapport-assist.desktop" ]; then
    echo "setup: to open the sidebar from the application menu (and at login): $VENV/bin/rapport-assist launcher install --at-login"
  fi
fi

# the rule engine's hot modules compiled by mypyc (issue 20's speed), again after their sources
# changed; quick when they did not, and the plain modules run if it fails (_compiled.py)
"$VENV/bin/python" -c 'import sys; from rapport_assist._compiled import main; sys.exit(main(["build", "--if-stale"]))'
