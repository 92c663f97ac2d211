"""Allow `python -m emphysema`."""

import sys

from emphysema.cli import main

sys.exit(main())
