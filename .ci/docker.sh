#!/usr/bin/env bash
# Prepare this machine to build and run the MHub images, idempotently:
#   1. install docker.io and debootstrap if missing (needs root),
#   2. start dockerd in the background unless a daemon already answers,
#   3. make the local Debian base image by debootstrap (kept once made), unless --online,
#   4. fill the host-side wheelhouse for the base image and every model (kept, only what is missing is added),
#   5. with --build, build the base image (offline on the local base image, or on Docker Hub's with --online).
# MHUB_PYTHON is the CPython 3.11 with pip that builds the wheels (default: .venv/bin/python if present, else
# python3). Each step prints its time.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then PY="${MHUB_PYTHON:-.venv/bin/python}"; else PY="${MHUB_PYTHON:-python3}"; fi
DOCKERD_LOG="${MHUB_DOCKERD_LOG:-/var/log/mhub-dockerd.log}"
BUILD_BASE=0
ONLINE=0
for arg in "$@"; do
    case "$arg" in
        --build) BUILD_BASE=1 ;;
        --online) ONLINE=1 ;;
        *) echo "usage: $0 [--build] [--online]" >&2; exit 2 ;;
    esac
done

step() { echo "== docker.sh: $*"; }
elapsed() { echo "== docker.sh: $1 took $(( $(date +%s) - $2 )) s"; }

t0=$(date +%s)
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
if [ "$ONLINE" = 0 ]; then
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    # Present on Debian; Ubuntu (e.g. GitHub's runners) needs it to bootstrap Debian.
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
fi
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    elapsed "install" "$t0"
fi

# The client of Debian's docker.io builds with BuildKit itself; newer clients need the buildx plugin.
if [ -z "${MHUB_DOCKER:-}" ] && [ -x /usr/bin/docker ]; then
    export MHUB_DOCKER=/usr/bin/docker
fi
DOCKER="${MHUB_DOCKER:-docker}"

t=$(date +%s)
if ! "$DOCKER" info >/dev/null 2>&1; then
    step "starting dockerd (log: $DOCKERD_LOG)"
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    setsid nohup dockerd </dev/null >"$DOCKERD_LOG" 2>&1 &
    for _ in $(seq 1 60); do
        [ -S /var/run/docker.sock ] && "$DOCKER" info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! "$DOCKER" info >/dev/null 2>&1; then
        echo "docker.sh: dockerd did not come up within 60 s; last lines of $DOCKERD_LOG:" >&2
        tail -n 20 "$DOCKERD_LOG" >&2
        exit 1
    fi
    elapsed "dockerd start" "$t"
fi

# Untagged images left by earlier rebuilds (each base rebuild leaves one of almost a gigabyte), and BuildKit's
# cache beyond MHUB_BUILD_CACHE_KEEP (default 8GB): every build of a new clone adds gigabytes to it, which filled
# a CI machine's disk after a few dozen runs.
"$DOCKER" image prune --force >/dev/null
"$DOCKER" builder prune --force --keep-storage "${MHUB_BUILD_CACHE_KEEP:-8GB}" >/dev/null 2>&1 \
    || echo "docker.sh: could not prune the build cache (continuing)" >&2

if [ "$ONLINE" = 0 ]; then
    t=$(date +%s)
    step "local base image"
    "$PY" -m mhubio.containers local-base
    elapsed "local base image" "$t"
fi

t=$(date +%s)
step "wheelhouse"
"$PY" -m mhubio.containers wheelhouse
elapsed "wheelhouse" "$t"

if [ "$BUILD_BASE" = 1 ]; then
    t=$(date +%s)
    step "base image"
    if [ "$ONLINE" = 1 ]; then
        "$PY" -m mhubio.containers build base --quiet
    else
        "$PY" -m mhubio.containers build base --offline --quiet
    fi
    elapsed "base image" "$t"
fi
elapsed "docker.sh" "$t0"
