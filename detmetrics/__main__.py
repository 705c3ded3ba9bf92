"""``python -m detmetrics`` runs the command line (see :mod:`detmetrics.cli`)."""

import sys

from .cli import main

sys.exit(main())
