#!/usr/bin/env bash
# Set up a virtual environment from the project's requirements and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False PYTHONUNBUFFERED=1
# Three lanes, each spread over three pytest-xdist workers with one torch thread each (two cores busy, the third
# worker filling the gaps while another waits on a browser or a server; no torch thread oversubscription; a test
# file's tests stay together and in order):
# - float32: the whole suite;
# - bfloat16 and float16: the tests of what precision can break (marked "precision": engine, methods, batching,
#   faults, Hub layouts) with the studio's models in half precision on the CPU, which mixes dtypes exactly where
#   CUDA half precision does.
# pytest exits 5 when it collected no tests: that is a failure of the suite, not a pass.
export OMP_NUM_THREADS=1
# One tiny model family for every lane and worker (built once, read only).
STUDIO_TEST_MODELS=$(mktemp -d)
export STUDIO_TEST_MODELS
trap 'rm -rf "$STUDIO_TEST_MODELS"' EXIT
set +e
times=()
status=0
for dtype in float32 bfloat16 float16; do
  echo "== $dtype lane =="
  started=$SECONDS
  if [ "$dtype" = float32 ]; then
    STUDIO_TEST_DTYPE=$dtype .venv/bin/python -m pytest -n 3 --dist loadfile "$@"
  else
    STUDIO_TEST_DTYPE=$dtype .venv/bin/python -m pytest -n 3 --dist loadfile -m "precision and not browser" "$@"
  fi
  lane=$?
  times+=("$dtype $((SECONDS - started)) s")
  [ "$status" -eq 0 ] && status=$lane
done
set -e
echo "== lane times: $(printf '%s; ' "${times[@]}")setup and lanes: $SECONDS s =="
exit $status
