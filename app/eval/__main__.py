"""``python -m app.eval`` (and ``accelerate launch -m app.eval``): see :mod:`app.eval.cli`."""

import sys

from app.eval.cli import main

sys.exit(main())
