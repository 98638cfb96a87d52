#!/usr/bin/env python3
"""Build, check and publish this directory's project: `scripts/publish_to_pypi.py --help`."""

import sys
from pathlib import Path

# Runs from a checkout without installing: the package lives in src/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from pypi_publish.cli import main

if __name__ == "__main__":
    sys.exit(main(prog="publish_to_pypi.py"))
