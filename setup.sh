#!/usr/bin/env bash
# One-step set-up on a fresh Debian/Ubuntu machine (or a Mac with Homebrew python):
# system GL packages for rendering without a screen, a venv in .venv, torch, and
# this project with its test extras. Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")"

VENV=${DURALAVA_VENV:-.venv}
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. GL without a screen: Xvfb, Mesa (llvmpipe) and EGL. Only on apt systems, only if missing.
APT_PACKAGES=(xvfb xauth libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libgbm1
              libopengl0 libxrandr2 libxinerama1 libxxf86vm1)
if command -v apt-get >/dev/null 2>&1; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        log "installing system packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi

# 2. The venv.
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

# 3. torch first, pinned, so nothing later pulls a different (CUDA-sized) build.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
    log "installing torch==$TORCH_VERSION"
    "${PIP[@]}" install "torch==$TORCH_VERSION"
fi

# 4. The project, editable, with test extras.
log "installing duralava-viewer"
"${PIP[@]}" install -e ".[test]"
log "done: $VENV/bin/duralava-viewer, $VENV/bin/duralava"
