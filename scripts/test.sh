#!/usr/bin/env bash
# Set up a virtual environment from the project's requirements and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
# Full suite in float32, then the half-precision lane: every model test again with the studio's models in
# bfloat16 on the CPU, which reproduces the dtype mixing of CUDA float16 (browser tests run once, above).
# pytest exits 5 when it collected no tests: that is a failure of the suite, not a pass.
set +e
echo "== float32 =="
STUDIO_TEST_DTYPE=float32 .venv/bin/python -m pytest "$@"
status=$?
echo "== half-precision lane: bfloat16 =="
STUDIO_TEST_DTYPE=bfloat16 .venv/bin/python -m pytest -m "not browser" "$@"
half=$?
set -e
[ "$status" -ne 0 ] && exit "$status"
exit $half
