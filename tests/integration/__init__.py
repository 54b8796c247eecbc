"""Tests through real servers and the real gRPC stack, in process."""
