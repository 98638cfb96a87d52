"""The local command's front door (`pypi-publish`, `scripts/publish_to_pypi.py`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from .config import config_from_args
from .errors import ConfigError
from .gha import Console
from .pipeline import execute, report_config_error


def main(argv: Sequence[str] | None = None, prog: str = "pypi-publish") -> int:
    env = dict(os.environ)
    console = Console.from_env(env)
    for name in ("TWINE_PASSWORD", "PYPI_API_TOKEN"):
        console.add_secret(env.get(name, "").strip())
    try:
        config = config_from_args(sys.argv[1:] if argv is None else argv, env, prog)
    except ConfigError as error:
        return report_config_error(error, console)
    return execute(config, env, console)


if __name__ == "__main__":
    sys.exit(main())
