"""``python -m raydas`` (what ``ray job submit`` runs)."""

import sys

from .apps.cli import main

sys.exit(main())
