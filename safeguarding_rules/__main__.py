"""`python -m safeguarding_rules`: see safeguarding_rules.cli."""

import sys

from safeguarding_rules.cli import main

sys.exit(main())
