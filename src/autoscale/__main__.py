"""``python -m autoscale``: see :mod:`autoscale.cli`."""

import sys

from autoscale.cli import main

sys.exit(main())
