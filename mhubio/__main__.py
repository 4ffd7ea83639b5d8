"""``python -m mhubio`` is the ``mhub`` command."""

import sys

from mhubio.cli import main

sys.exit(main())
