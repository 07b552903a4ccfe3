#!/usr/bin/env bash
# Refresh constraints.txt, the lock every environment of the project installs from (`make lock`).
#
# Installs auroragen with its test and bench extras, torch 2.13.0 (the CPU wheel on disk) and
# onnxscript into a new virtual environment, pinned only by the HOLDS below, and writes the exact version of every
# package that ended up there (pip and setuptools too) to constraints.txt. `make demo`, `make test`,
# `make bench` and .ci/run then install with `pip -c constraints.txt`: the same versions on every
# machine until the next `make lock`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH=torch==2.13.0
if ! ls /opt/wheels/torch-2.13.0* >/dev/null 2>&1; then
  echo "lock: the torch 2.13.0 CPU wheel is not in /opt/wheels; without it pip would fetch a CUDA build" >&2
  exit 1
fi
# Releases held back on purpose, each with its reason (drop a line when its reason goes away):
HOLDS=(
  # 0.7.0 takes 0.9 s to import (0.6.0: 0.15 s), and onnx imports it: every compile, CLI test and fuzz
  # worker would pay it (measured on an Intel Xeon, Python 3.11)
  "ml_dtypes<0.7"
)
venv=$(mktemp -d)
trap 'rm -rf "$venv" "$venv.holds"' EXIT
printf '%s\n' "${HOLDS[@]}" > "$venv.holds"
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip setuptools
"$venv/bin/python" -m pip install -q -c "$venv.holds" -e '.[test,bench]' "$TORCH" onnxscript
{
  echo "# The exact versions every environment of this project installs (pip install -c constraints.txt)."
  echo "# Written by 'make lock' (tools/lock.sh) with $("$venv/bin/python" --version) on $(uname -m) Linux;"
  echo "# refresh it on purpose, run the whole suite, and commit it alone with what changed."
  "$venv/bin/python" -m pip freeze --all --exclude-editable | grep -v '^#'
} > constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
echo "lock: wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
