"""Benchmarks of publishing through a WAN-shaped loopback link; see benchmarks/README.md."""
