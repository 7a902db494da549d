"""``python -m raydas`` (what ``ray job submit`` runs)."""

import sys

from .cli import main

sys.exit(main())
