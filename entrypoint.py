"""The Docker action's entrypoint: the runner starts this with the step's inputs as INPUT_* variables."""

import sys

from pypi_publish.action import main

if __name__ == "__main__":
    sys.exit(main(argv=sys.argv[1:]))
