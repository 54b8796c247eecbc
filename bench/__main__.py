"""`make bench`: runs every benchmark; none has landed yet (ingestion, anonymization and interpolation add theirs)."""

print("no benchmarks yet: ingestion, anonymization and interpolation add theirs under bench/")
