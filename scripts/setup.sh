#!/usr/bin/env bash
# Sets up .venv with hebbformer (editable), its test tools and lava-nc (the judge of the Loihi
# emulator; HEBBFORMER_NO_LAVA=1 leaves it out, and the lava parity tests then skip).
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
if [ -n "${HEBBFORMER_NO_LAVA:-}" ]; then
  .venv/bin/pip install -q -e ".[test]"
else
  .venv/bin/pip install -q -e ".[test,lava]"
  # lava-nc 0.10.0 declares Python < 3.11; on 3.11 it works with hebbformer's small fix
  # (hebbformer.neuro.lava_compat). Its dependencies came with the [lava] extra just above.
  .venv/bin/pip install -q --no-deps --ignore-requires-python lava-nc==0.10.0
fi
.venv/bin/python -c "import hebbformer, torch; print('hebbformer', hebbformer.__version__, 'with torch', torch.__version__)"
