"""Loopback servers that behave like GitHub's OIDC token endpoint and PyPI's Trusted Publishing."""
