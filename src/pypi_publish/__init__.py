"""Publish Python distributions to PyPI or any index: build, check, authenticate, upload, report."""
__version__ = "0.1.0"
