"""Starts pypi-publish on a runner: in its image (docker mode) or in a hash-locked venv (host mode)."""
