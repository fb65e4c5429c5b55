"""`python -m bot.cli`, the same as the `aiusage` console script."""

import sys

from bot.cli.console_script import main

sys.exit(main())
