"""`make bench`: runs every benchmark module in turn (anonymization, ingestion, the PACS entrance, interpolation, serving, annotation, workflow, the viewer, replicas on the real servers, training, the RPC fuzz); one failing does not stop the others."""

from __future__ import annotations

import importlib
import sys
import traceback

# Each module has run() that prints its own table (and runs alone as `python -m bench.<name>`).
MODULES = ("bench.anonymization", "bench.ingestion", "bench.pacs", "bench.interpolation", "bench.serving", "bench.annotation", "bench.workflow",
           "bench.viewer",
           "bench.scale", "bench.training",
           "bench.fuzz")


def main() -> int:
    failed = []
    for name in MODULES:
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(name).run()
        except Exception:
            traceback.print_exc()
            failed.append(name)
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
