"""The sample package of pypi-publish's self-test."""
