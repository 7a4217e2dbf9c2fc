#!/usr/bin/env bash
# Sets up .venv with hebbformer (editable) and its test tools.
# torch is installed first, pinned: on the project's CPU machines torch==2.13.0 is a local CPU
# wheel that installs in seconds, while an unpinned "torch" would make pip fetch a multi-GB CUDA
# build. Elsewhere the pin is an ordinary PyPI install; set TORCH_SPEC to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install -q "$TORCH_SPEC"
fi
.venv/bin/pip install -q -e ".[test]"
.venv/bin/python -c "import hebbformer, torch; print('hebbformer', hebbformer.__version__, 'with torch', torch.__version__)"
