"""``python -m autoscale``: see :mod:`autoscale.commands.cli`."""

import sys

from autoscale.commands.cli import main

sys.exit(main())
