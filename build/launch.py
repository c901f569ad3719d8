"""Entry point of the frozen binary: the same main() as the console command.

PyInstaller needs a script, and the package's own __main__.py uses a relative
import that only works inside the package, so the binary starts here.
"""

import sys

from afinitwin_appliance.cli import main

if __name__ == "__main__":
    sys.exit(main())
