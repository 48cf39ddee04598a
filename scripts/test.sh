#!/usr/bin/env bash
# Set up a virtual environment from the project's requirements and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
# Full suite in float32, then the half-precision lanes: the tests of what precision can break (marked "precision":
# engine, methods, batching, faults, Hub layouts) again with the studio's models in bfloat16 and in float16 on the
# CPU, which mix dtypes exactly where CUDA half precision does.
# pytest exits 5 when it collected no tests: that is a failure of the suite, not a pass.
set +e
times=()
echo "== float32 =="
started=$SECONDS
STUDIO_TEST_DTYPE=float32 .venv/bin/python -m pytest "$@"
status=$?
times+=("float32 $((SECONDS - started)) s")
for dtype in bfloat16 float16; do
  echo "== half-precision lane: $dtype =="
  started=$SECONDS
  STUDIO_TEST_DTYPE=$dtype .venv/bin/python -m pytest -m "precision and not browser" "$@"
  lane=$?
  times+=("$dtype $((SECONDS - started)) s")
  [ "$status" -eq 0 ] && status=$lane
done
set -e
echo "== lane times: $(printf '%s; ' "${times[@]}")setup and lanes: $SECONDS s =="
exit $status
