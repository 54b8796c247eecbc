"""Runs pydicom/deid (a library, no folder CLI) with its default recipe: `python deid_driver.py SRC DST` in the peers' venv."""

import sys
from pathlib import Path

from deid.dicom import replace_identifiers


def main(source: str, destination: str) -> int:
    files = sorted(str(path) for path in Path(source).rglob("*") if path.is_file())
    Path(destination).mkdir(parents=True, exist_ok=True)
    replace_identifiers(dicom_files=files, save=True, output_folder=destination, overwrite=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
