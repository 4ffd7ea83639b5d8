"""``python -m mhubio`` is the ``mhub`` command."""

import sys

from mhubio.cli import console_main

sys.exit(console_main())
