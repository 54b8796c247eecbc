"""Fast tests with no servers and no network."""
