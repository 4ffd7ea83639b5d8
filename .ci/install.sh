#!/usr/bin/env bash
# Creates .venv with mhubio and every model dependency (CPU torch). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
pip="./.venv/bin/pip"
$pip install -q -U pip setuptools wheel
# The constraint keeps the CPU build of torch: without it pip pulls a multi-GB CUDA build.
$pip install -q -c constraints.txt "numpy>=2.0" torch==2.13.0
$pip install -q -c constraints.txt -e ".[dev,nnunet,totalsegmentator,convert,dask]"
# pyradiomics 3.0.1 builds C extensions against the installed numpy.
$pip install -q -c constraints.txt --no-build-isolation pyradiomics==3.0.1
