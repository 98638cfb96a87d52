"""Loopback stand-ins for Sigstore (a Fulcio-like CA with a CT log key, a Rekor-like log) that the
real `sigstore` client signs and verifies against, through a client trust config they write."""
