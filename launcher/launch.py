"""`python -I launcher/launch.py`: what action.yml's step runs, through start.sh or start.ps1."""

import sys
from pathlib import Path

# -I leaves the script's own folder off the path; the action's root holds the `launcher` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher.main import main

if __name__ == "__main__":
    sys.exit(main())
