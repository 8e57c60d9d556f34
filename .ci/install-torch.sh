#!/usr/bin/env bash
# PyTorch for the frameworks tests (real scaled_dot_product_attention beside dilbench): installed
# into .ci/torch-venv only from wheels already on this machine (/opt/wheels and the local file
# indexes pip is configured with); nothing is fetched from the network. Prints the Python to use,
# or nothing when no torch wheel is here (the PyTorch tests then skip with their reason).
set -uo pipefail
cd "$(dirname "$0")/.."
wheel=$(ls /opt/wheels/torch-*cp$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')*.whl 2>/dev/null | head -1)
if [ -z "$wheel" ]; then echo "== torch: no local torch wheel for this python3; PyTorch tests will skip" >&2; exit 0; fi
venv=.ci/torch-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
  python3 -m venv "$venv" >&2 || exit 0
  args=(--no-input --disable-pip-version-check --find-links /opt/wheels)
  for idx in /opt/pypi/simple /opt/pypi-more/simple; do [ -d "$idx" ] && args+=(--extra-index-url "file://$idx"); done
  # --index-url pointing at a local index too, so pip never tries a remote one
  [ -d /opt/pypi/simple ] && args+=(--index-url file:///opt/pypi/simple) || args+=(--no-index)
  "$venv/bin/pip" install -q "${args[@]}" "$wheel" numpy >&2 || { echo "== torch: install from local wheels failed; PyTorch tests will skip" >&2; exit 0; }
fi
"$venv/bin/python" -c 'import torch, numpy' 2>/dev/null && echo "$PWD/$venv/bin/python"
