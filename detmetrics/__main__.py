"""``python -m detmetrics`` runs the command line (see ``detmetrics.cli``)."""

import sys

from .cli import main

sys.exit(main())
