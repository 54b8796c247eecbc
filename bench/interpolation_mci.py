"""ITK's MorphologicalContourInterpolator on one key-slice label map, run in the peers' virtualenv.

`python interpolation_mci.py IN.npy OUT.npy AXIS`: IN holds the labels on the key slices only (array axes
[k, j, i]); OUT gets the interpolated map. Kept free of Radlab imports: the peers' venv has only ITK.
"""

import sys

import itk
import numpy as np


def main(source: str, target: str, axis: int) -> None:
    labels = np.load(source)
    image = itk.image_from_array(np.ascontiguousarray(labels))
    interpolator = itk.MorphologicalContourInterpolator.New(image)
    # ITK indexes (i, j, k): numpy axis n is ITK axis 2 - n.
    interpolator.SetAxis(2 - axis)
    interpolator.Update()
    np.save(target, itk.array_from_image(interpolator.GetOutput()))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
