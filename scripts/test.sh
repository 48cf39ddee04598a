#!/usr/bin/env bash
# Set up a virtual environment from the project's requirements and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False PYTHONUNBUFFERED=1
# Three lanes at once, so both cores stay busy while one lane waits (on a browser, a server, a load):
# - float32: the whole suite, its test files spread over two workers (pytest-xdist; a file's tests stay in order);
# - bfloat16 and float16: the tests of what precision can break (marked "precision": engine, methods, batching,
#   faults, Hub layouts) with the studio's models in half precision on the CPU, which mixes dtypes exactly where
#   CUDA half precision does.
# Each lane's output is printed whole when all are done, then each lane's time. pytest exits 5 when it collected no
# tests: that is a failure of the suite, not a pass.
logs=$(mktemp -d)
lane() {
  local dtype=$1
  shift
  local started=$SECONDS
  STUDIO_TEST_DTYPE=$dtype .venv/bin/python -m pytest "$@" >"$logs/$dtype.log" 2>&1
  local status=$?
  echo "$dtype $((SECONDS - started)) s" >"$logs/$dtype.time"
  return $status
}
set +e
lane float32 -n 2 --dist loadfile "$@" &
float32=$!
lane bfloat16 -m "precision and not browser" "$@" &
bfloat16=$!
lane float16 -m "precision and not browser" "$@" &
float16=$!
status=0
for dtype in float32 bfloat16 float16; do
  wait "${!dtype}"
  lane_status=$?
  echo "== $dtype lane (exit $lane_status) =="
  cat "$logs/$dtype.log"
  [ "$status" -eq 0 ] && status=$lane_status
done
set -e
echo "== lane times: $(cat "$logs"/float32.time "$logs"/bfloat16.time "$logs"/float16.time | paste -sd ';' -); setup and lanes: $SECONDS s =="
rm -rf "$logs"
exit $status
