"""ITK's MorphologicalContourInterpolator on key-slice label maps, run in the peers' virtualenv.

`python interpolation_mci.py IN.npy OUT.npy AXIS [IN.npy OUT.npy AXIS ...]`: each IN holds labels on the
key slices only (array axes [k, j, i]); OUT gets the interpolated map and OUT.seconds the time ITK took
(ITK's import, seconds long, is paid once for all). Kept free of Radlab imports: the venv has only ITK.
"""

import sys
import time

import itk
import numpy as np


def interpolate(source: str, target: str, axis: int) -> None:
    labels = np.load(source)
    started = time.perf_counter()
    interpolator = itk.MorphologicalContourInterpolator.New(itk.image_from_array(np.ascontiguousarray(labels)))
    interpolator.SetAxis(2 - axis)  # ITK indexes (i, j, k): numpy axis n is ITK axis 2 - n
    interpolator.Update()
    filled = itk.array_from_image(interpolator.GetOutput())
    seconds = time.perf_counter() - started
    np.save(target, filled)
    with open(target + ".seconds", "w") as out:
        out.write(f"{seconds}\n")


def warm_up() -> None:
    """ITK loads its modules on first use (seconds): pay that before anything is timed."""
    tiny = np.zeros((3, 4, 4), dtype=np.uint16)
    tiny[0, 1:3, 1:3] = tiny[2, 1:3, 1:3] = 1
    itk.MorphologicalContourInterpolator.New(itk.image_from_array(tiny)).Update()


if __name__ == "__main__":
    warm_up()
    jobs = sys.argv[1:]
    for n in range(0, len(jobs), 3):
        interpolate(jobs[n], jobs[n + 1], int(jobs[n + 2]))
