"""`python -m tenantsync.emulator --fixture FILE [--port N] ...`"""

import sys

from tenantsync.emulator.server import main

raise SystemExit(main(sys.argv[1:]))
