#!/usr/bin/env bash
# Set up a virtual environment from the project's requirements and start the studio.
# Arguments go to app.py, e.g. `bash scripts/run.sh --tiny` for the offline demo models.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
exec .venv/bin/python app.py "$@"
