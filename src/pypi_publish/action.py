"""The GitHub Action's front door: read the step's inputs, run the pipeline, exit with its status."""

from __future__ import annotations

import os
import sys

from .config import action_input, config_from_action_env
from .errors import ConfigError
from .gha import Console
from .pipeline import execute, report_config_error


def main() -> int:
    env = dict(os.environ)
    console = Console.from_env(env)
    # Mask the token before anything else is printed, even a config error.
    console.add_secret(action_input(env, "password").strip())
    console.add_secret(env.get("PYPI_API_TOKEN", "").strip())
    try:
        config = config_from_action_env(env)
    except ConfigError as error:
        return report_config_error(error, console)
    os.chdir(config.workspace)
    return execute(config, env, console)


if __name__ == "__main__":
    sys.exit(main())
