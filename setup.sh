#!/usr/bin/env bash
# Set up Performer on Debian/Ubuntu from nothing; safe to run again (it only adds what is missing).
#   ./setup.sh            system packages (sudo when not root), .venv, Performer + test tools
#                         (python3-venv, libportaudio2, jackd2, chromium, gcc, python3-dev when missing)
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
# Audio: PortAudio (with its JACK host API) and JACK itself (real streams without a sound card:
# the tests start a dummy-backend server). --no-install-recommends keeps Qt and friends out.
ldconfig -p 2>/dev/null | grep -q libportaudio.so.2 || missing+=(libportaudio2)
command -v jackd >/dev/null || missing+=(jackd2)
# The dashboard's browser tests: Playwright drives Debian's Chromium (no browser download).
command -v chromium >/dev/null || missing+=(chromium)
# The safety stage's C pass (performer/audio/_safety.c) is built at install: a compiler and the
# Python headers. Without them the install still works and a slower numpy path runs instead.
command -v cc >/dev/null || missing+=(gcc)
python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  2>/dev/null || missing+=(python3-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Performer needs Python >= 3.11, found $(python3 --version)" >&2; exit 1; }

[ -x .venv/bin/python ] || python3 -m venv .venv
# constraints.txt pins what we test with (torch 2.13.0 CPU: an unpinned torch pulls GBs of CUDA).
pip_install() {
  if ! .venv/bin/python -m pip install -q "$@" >.venv/pip.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip.log >&2; echo "setup: pip install $* failed" >&2; exit 1
  fi
}
pip_install --upgrade "pip>=23"
pip_install -c constraints.txt -e ".[test]"
.venv/bin/python -c "import performer, torch; print(f'setup: performer {performer.__version__}, torch {torch.__version__}')"
.venv/bin/python -c "import performer.audio._safety" 2>/dev/null ||
  echo "setup: the safety stage's C pass was not built (no C compiler or Python headers): the numpy path runs" >&2
