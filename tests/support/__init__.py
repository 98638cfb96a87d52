"""Test support: real servers, sample projects and the secrets sweep."""
