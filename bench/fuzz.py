"""The RPC fuzz at bench size: tests/integration/test_rpc_fuzz.py with RADLAB_FUZZ_EXAMPLES calls per method and role
(default 600, about 38,000 calls; CI runs 80), its summary line printed."""

from __future__ import annotations

import os
import subprocess
import sys

from shared.config import REPOSITORY

EXAMPLES = 600


def run() -> dict:
    examples = int(os.environ.get("RADLAB_FUZZ_EXAMPLES") or EXAMPLES)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "tests/integration/test_rpc_fuzz.py"],
        cwd=REPOSITORY, env=os.environ | {"RADLAB_FUZZ_EXAMPLES": str(examples)}, capture_output=True, text=True,
    )
    summary = [line for line in done.stdout.splitlines() if line.startswith("fuzz:") or " passed" in line or " failed" in line]
    print(f"RPC fuzz, {examples} examples per method:")
    for line in summary:
        print(f"  {line.strip()}")
    if done.returncode != 0:
        print(done.stdout[-4000:])
        raise RuntimeError("the RPC fuzz found a call answered with a status no caller can act on (see above)")
    return {"examples": examples, "summary": summary}


if __name__ == "__main__":
    run()
