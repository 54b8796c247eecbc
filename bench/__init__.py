"""Benchmarks against the field's peers, each printed as a ratio measured in the same run (`make bench`)."""
