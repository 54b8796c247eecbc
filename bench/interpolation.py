"""Interpolation benchmark (issues 6 and 21): held-out slices filled from every k-th key slice, Radlab vs its peers,
with Radlab's settings chosen on one half of the cases and reported on the other.

Protocol: the acquisition axis is the coarsest spacing (isotropic: the axis along which the labels span most
slices); within the labelled range every k-th slice plus the last labelled slice are keys; the rest is filled
and only those held-out slices are scored: Dice per label over the held-out slices, averaged over the labels
present there; HD95 (mm) per label and held-out slice where truth and prediction both hold it, averaged;
false-empty and false-present (slice, label) pairs; seconds. Every method gets the same keys: nearest-key
copy, the plain signed-distance baseline, ITK's MorphologicalContourInterpolator (peers' venv, subprocess) and
Radlab's `fill`, with and without the image.

The cases are split in two halves (alternating in data/README.md's order, fixed before any figure was seen).
The automatic method's settings (choice.Settings) are chosen on one half, from a grid, by the fewest
case × k × image runs below the best peer − 0.005 and then the largest mean margin over it; they are
reported on the other half; then the halves swap. `python -m bench.interpolation` runs it alone.
"""

from __future__ import annotations

import functools
import itertools
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.interpolation.domain import choice
from services.interpolation.domain.fill import LabelKeys, Method, Weighing, fill, fill_by_shape, keys_from_slices, weigh
from shared import agreement
from shared.config import data_dir
from shared.grid import array_spacing
from shared.volumes import from_nifti

REPO = Path(__file__).resolve().parent.parent
KS = (2, 3, 4, 6)

# Case name → (image or None, label map) under RADLAB_DATA, in data/README.md's order. The 32-label map's image is
# a DICOM series (JPEG 2000): it is scored without its image, the case the issue names.
CASES = {
    "32-label map": (None, "totalsegmentator/tests/reference_files/example_seg_dicom.nii.gz"),
    "41-organ CT": ("totalsegmentator/tests/reference_files/example_ct_sm.nii.gz",
                    "totalsegmentator/tests/reference_files/example_seg.nii.gz"),
    "24-label MR": ("totalsegmentator/tests/reference_files/example_mr_sm.nii.gz",
                    "totalsegmentator/tests/reference_files/example_seg_mr.nii.gz"),
    "spleen CT": ("ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz",
                  "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"),
    "cord T2": ("sct_t2/t2/t2.nii.gz", "sct_t2/t2/t2_seg-manual.nii.gz"),
    "vertebral levels": ("sct_t2/t2/t2.nii.gz", "sct_t2/t2/t2_seg-manual_labeled.nii.gz"),
    "grey matter": ("sct_more/t2s/t2s.nii.gz", "sct_more/t2s/t2s_gmseg_manual.nii.gz"),
    "rootlets": ("sct_t2/t2/t2.nii.gz", "sct_more/t2/t2_seg-deepseg_rootlets-manual.nii.gz"),
}
# Alternating in that order: settings chosen on one half are reported on the other.
HALVES = (tuple(CASES)[0::2], tuple(CASES)[1::2])

NEAREST, SIGNED_DISTANCE, MCI = "nearest key", "signed distance", "ITK MCI"
PEERS = (NEAREST, SIGNED_DISTANCE, MCI)
# Radlab's own fixed methods, shown beside the automatic choice (each is one of its candidates).
FIXED = (choice.SHAPE, choice.IMAGE_GUIDED)

# Held-out Dice the issue measured for the peers (nearest / signed distance / MCI), to check the protocol.
ISSUE_PEERS = {("spleen CT", 3): (0.900, 0.960, 0.933), ("spleen CT", 6): (0.828, 0.883, 0.898),
               ("41-organ CT", 2): (0.722, 0.692, 0.642), ("41-organ CT", 3): (0.711, 0.624, 0.533),
               ("41-organ CT", 6): (0.551, 0.395, 0.363), ("24-label MR", 3): (0.786, 0.709, 0.675)}
# Dice goals kept from issue 6, now for the automatic method with the image, on the held-out half.
GOALS = {("41-organ CT", 2): 0.90, ("41-organ CT", 3): 0.87, ("41-organ CT", 4): 0.82, ("41-organ CT", 6): 0.75,
         ("spleen CT", 3): 0.975, ("24-label MR", 3): 0.82}
# The 41-organ CT's smallest structures, scored on their own (TotalSegmentator's class map): label → name.
SMALL_STRUCTURES = {8: "adrenal gland right", 9: "adrenal gland left", 52: "aorta", 63: "inferior vena cava",
                    64: "portal and splenic vein"}
NEVER_WORSE = 0.005      # on every case × k × image: ≥ the best peer − this
MEAN_MARGIN = 0.05       # over all of them: mean ≥ the best peer's mean + this
SECONDS_GOAL = 5.0       # a whole benchmark volume, validation included
ONE_GAP_MS_GOAL = 200.0
# The settings the automatic choice is chosen from: bonus for copying, overlap below which unvalidated labels are copied,
# blend or not, gap-to-width ratio above which unvalidated labels are copied, labels on one key copied or shrunk.
GRID = tuple(choice.Settings(copy_bonus=bonus, min_overlap=overlap, blend=blend, max_gap_ratio=ratio, one_key_copy=one_key)
             for bonus, overlap, blend, ratio, one_key in itertools.product(
                 (0.0, 0.02, 0.05, 0.1), (0.0, 0.3, 0.5, 0.7), (False, True), (0.5, 1.0, 2.0, np.inf), (False, True)))
_mci_cache: dict[tuple[str, tuple[int, ...]], tuple[np.ndarray | None, float]] = {}  # run() fills it in one go


@dataclass(frozen=True)
class Case:
    """One labelled volume: image and labels [k, j, i], spacing in mm per array axis, the acquisition axis."""

    name: str
    image: np.ndarray | None
    labels: np.ndarray
    spacing: tuple[float, float, float]
    axis: int


@dataclass(frozen=True)
class Score:
    """One method on one case and k, scored on the held-out slices."""

    dice: float
    hd95: float
    false_empty: int
    false_present: int
    seconds: float
    per_label: dict[int, float] = field(default_factory=dict)


@functools.cache
def load_case(name: str) -> Case:
    """Read a case's image and labels (cached for the run)."""
    image_part, labels_part = CASES[name]
    labels, affine = from_nifti(data_dir() / labels_part)
    labels = labels.astype(np.int32)
    image = None if image_part is None else from_nifti(data_dir() / image_part)[0].astype(np.float32)
    spacing = array_spacing(affine)
    return Case(name, image, labels, spacing, acquisition_axis(labels, spacing))


def acquisition_axis(labels: np.ndarray, spacing: tuple[float, float, float]) -> int:
    """The coarsest-spaced axis; for isotropic volumes the one along which the labels span most slices."""
    if max(spacing) - min(spacing) > 1e-3 * max(spacing):
        return int(np.argmax(spacing))
    spans = []
    for axis in range(3):
        present = np.nonzero(np.moveaxis(labels, axis, 0).reshape(labels.shape[axis], -1).any(axis=1))[0]
        spans.append(present.max() - present.min() + 1 if present.size else 0)
    return int(np.argmax(spans))


def labelled_range(labels: np.ndarray, axis: int) -> tuple[int, int]:
    """First and last slice along `axis` holding any label."""
    present = np.nonzero(np.moveaxis(labels, axis, 0).reshape(labels.shape[axis], -1).any(axis=1))[0]
    return int(present.min()), int(present.max())


def key_slices(labels: np.ndarray, axis: int, k: int) -> list[int]:
    """Every k-th slice of the labelled range from its first, plus its last."""
    first, last = labelled_range(labels, axis)
    return sorted({*range(first, last + 1, k), last})


def held_out(labels: np.ndarray, axis: int, keys: list[int]) -> list[int]:
    """The labelled range's slices that are not keys: the ones scored."""
    first, last = labelled_range(labels, axis)
    return [s for s in range(first, last + 1) if s not in set(keys)]


def score(truth: np.ndarray, predicted: np.ndarray, axis: int, scored: list[int],
          spacing: tuple[float, float, float], seconds: float, hd95: bool = True) -> Score:
    """Score a prediction on the held-out slices `scored` (see the module's protocol); HD95 only with `hd95`."""
    truth_slices, predicted_slices = np.moveaxis(truth, axis, 0)[scored], np.moveaxis(predicted, axis, 0)[scored]
    in_plane = tuple(s for n, s in enumerate(spacing) if n != axis)
    per_label, distances, false_empty, false_present = {}, [], 0, 0
    for value in sorted((set(np.unique(truth_slices).tolist()) | set(np.unique(predicted_slices).tolist())) - {0}):
        expected, found = truth_slices == value, predicted_slices == value
        expected_any, found_any = expected.any(axis=(1, 2)), found.any(axis=(1, 2))
        false_empty += int(np.count_nonzero(expected_any & ~found_any))
        false_present += int(np.count_nonzero(found_any & ~expected_any))
        if expected_any.any():
            per_label[value] = agreement.dice(found, expected)
            label_distances = [agreement.hd95(found[n], expected[n], in_plane)
                               for n in np.nonzero(expected_any & found_any)[0]] if hd95 else []
            if label_distances:
                distances.append(float(np.mean(label_distances)))
    return Score(dice=float(np.mean(list(per_label.values()))) if per_label else 1.0,
                 hd95=float(np.mean(distances)) if distances else 0.0,
                 false_empty=false_empty, false_present=false_present, seconds=seconds, per_label=per_label)


def given_keys(case: Case, keys: list[int]) -> np.ndarray:
    """The case's labels on the key slices only: what every method starts from."""
    given = np.zeros_like(case.labels)
    np.moveaxis(given, case.axis, 0)[keys] = np.moveaxis(case.labels, case.axis, 0)[keys]
    return given


def predict(case: Case, keys: list[int], method: str) -> tuple[np.ndarray | None, float]:
    """A peer's or one of Radlab's methods' (by name) filled volume from the case's key slices, and the seconds it
    took (None: unavailable)."""
    moved = np.moveaxis(case.labels, case.axis, 0)
    given = given_keys(case, keys)
    started = time.perf_counter()
    if method == NEAREST:
        first, last = labelled_range(case.labels, case.axis)
        nearest = [min(keys, key=lambda key: (abs(key - s), key)) for s in range(moved.shape[0])]
        filled = np.moveaxis(moved[nearest], 0, case.axis).copy()
        outside = np.moveaxis(filled, case.axis, 0)
        outside[:first], outside[last + 1:] = 0, 0
    elif method == SIGNED_DISTANCE:
        volume = np.moveaxis(given, case.axis, 0).copy()
        in_plane = tuple(s for n, s in enumerate(case.spacing) if n != case.axis)
        fill_by_shape(volume, keys_from_slices(given, keys, case.axis), in_plane, correspondence=False)
        filled = np.moveaxis(volume, 0, case.axis)
    elif method == MCI:
        return _mci_cache.pop((case.name, tuple(keys)), None) or mci([(given, case.axis)])[0]
    else:
        filled = fill(given, keys_from_slices(given, keys, case.axis), axis=case.axis, method=Method[method],
                      image=case.image, spacing=case.spacing).labels
    return filled, time.perf_counter() - started


def evaluate(case: Case | str, k: int, method: str) -> Score | None:
    """One peer or Radlab method (by name) on one case with every k-th key slice, scored on the held-out slices (None:
    unavailable)."""
    case = load_case(case) if isinstance(case, str) else case
    keys = key_slices(case.labels, case.axis, k)
    predicted, seconds = predict(case, keys, method)
    if predicted is None:
        return None
    return score(case.labels, predicted, case.axis, held_out(case.labels, case.axis, keys), case.spacing, seconds)


@functools.cache
def _peers_python() -> Path | None:
    """The peers' venv python when ITK's interpolator is installed there (bench/peers.sh builds it once)."""
    done = subprocess.run(["bash", str(REPO / "bench" / "peers.sh")], capture_output=True, text=True, cwd=REPO,
                          timeout=1800)
    venv = next((line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("PEERS_VENV=")), None)
    if venv is None:
        return None
    python = Path(venv) / "bin" / "python"
    check = subprocess.run([str(python), "-c", "import itk; itk.MorphologicalContourInterpolator"],
                           capture_output=True, timeout=300)
    return python if check.returncode == 0 else None


def mci(runs: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray | None, float]]:
    """ITK MCI on each (key-slice labels, axis) in one peers'-venv subprocess: filled maps and ITK's seconds
    (None where it is not installed or wrote nothing; a crash at interpreter exit does not matter)."""
    python = _peers_python()
    if python is None:
        return [(None, 0.0)] * len(runs)
    with tempfile.TemporaryDirectory() as folder:
        arguments = []
        for n, (given, axis) in enumerate(runs):
            np.save(Path(folder) / f"{n}.npy", given.astype(np.uint16))
            arguments += [str(Path(folder) / f"{n}.npy"), str(Path(folder) / f"{n}.out.npy"), str(axis)]
        subprocess.run([str(python), str(REPO / "bench" / "interpolation_mci.py"), *arguments],
                       capture_output=True, timeout=1200)
        results = []
        for n, (given, _axis) in enumerate(runs):
            target = Path(folder) / f"{n}.out.npy"
            done = target.is_file() and Path(f"{target}.seconds").is_file()
            results.append((np.load(target).astype(given.dtype), float(Path(f"{target}.seconds").read_text()))
                           if done else (None, 0.0))
        return results


def one_gap_ms(method: Method, repeats: int = 5) -> float:
    """Milliseconds to fill one structure across one gap (two slices between) of a 512×512 slice pair: the
    spleen's two key slices k=3 apart around its middle, scaled up to 512×512 (labels nearest, image linear)."""
    from scipy import ndimage

    case = load_case("spleen CT")
    first, last = labelled_range(case.labels, case.axis)
    middle = (first + last) // 2
    block = slice(middle - 1, middle + 3)
    zoom = (1, 512 / case.labels.shape[1], 512 / case.labels.shape[2])
    labels = ndimage.zoom(np.moveaxis(case.labels, case.axis, 0)[block], zoom, order=0)
    image = ndimage.zoom(np.moveaxis(case.image, case.axis, 0)[block], zoom, order=1)
    labels[1:3] = 0
    keys = {1: LabelKeys(drawn=(0, 3), absent=())}
    spacing = (case.spacing[case.axis], *(s / z for s, z in zip(case.spacing[1:], zoom[1:])))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fill(labels, keys, method=method, image=image, spacing=spacing, fast=True)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


@dataclass
class Weighed:
    """The automatic method's evidence on one case, k and image choice, with what each part of it took (seconds), so
    the settings can be varied without filling again and the time of one `fill` call is still known."""

    weighing: Weighing
    seconds: float
    candidate_seconds: dict[str, float]
    scores: dict[tuple, Score] = field(default_factory=dict)  # by the methods chosen per label


def weighed(case: Case, k: int, with_image: bool) -> Weighed:
    """Weigh the candidates on the case's keys and run each on the whole volume once."""
    keys = key_slices(case.labels, case.axis, k)
    given = given_keys(case, keys)
    started = time.perf_counter()
    weighing = weigh(given, keys_from_slices(given, keys, case.axis), axis=case.axis,
                     image=case.image if with_image else None, spacing=case.spacing)
    seconds = time.perf_counter() - started
    candidate_seconds = {}
    for name in weighing.candidates:
        started = time.perf_counter()
        weighing.result(name)
        candidate_seconds[name] = time.perf_counter() - started
    return Weighed(weighing, seconds, candidate_seconds)


def automatic(case: Case, k: int, evidence: Weighed, settings: choice.Settings,
              hd95: bool = True) -> tuple[Score, dict[int, choice.Choice]]:
    """The automatic method with `settings` on one case and k, scored on the held-out slices (HD95 only with
    `hd95`); seconds are those one `fill` call takes (weighing, the chosen candidates' fillings, composing)."""
    keys = key_slices(case.labels, case.axis, k)
    started = time.perf_counter()
    choices = evidence.weighing.decide(settings)
    chosen = (tuple((value, made.method) for value, made in choices.items()), hd95)
    if chosen in evidence.scores:  # other settings chose the same methods
        return evidence.scores[chosen], choices
    volume, _ = evidence.weighing.compose(choices)
    needed = {made.method for made in choices.values()}
    needed = set(evidence.candidate_seconds) if choice.BLEND in needed else needed
    seconds = (evidence.seconds + sum(evidence.candidate_seconds[name] for name in needed)
               + time.perf_counter() - started)
    predicted = np.moveaxis(volume, 0, case.axis)
    found = evidence.scores[chosen] = score(case.labels, predicted, case.axis, held_out(case.labels, case.axis, keys),
                                            case.spacing, seconds, hd95)
    return found, choices


def candidate(case: Case, k: int, evidence: Weighed, name: str) -> Score:
    """One of the automatic method's candidates alone on the whole volume (Radlab's fixed method of that name)."""
    keys = key_slices(case.labels, case.axis, k)
    predicted = np.moveaxis(evidence.weighing.result(name), 0, case.axis)
    return score(case.labels, predicted, case.axis, held_out(case.labels, case.axis, keys), case.spacing,
                 evidence.candidate_seconds[name])


def runs(names: tuple[str, ...]) -> list[tuple[str, int, bool]]:
    """Every (case, k, with the image) of these cases: with and without the image where the case has one."""
    return [(name, k, with_image) for name in names for k in KS
            for with_image in ((True, False) if load_case(name).image is not None else (False,))]


def best_peer(peers: dict[tuple[str, int], dict[str, Score | None]], name: str, k: int) -> tuple[str, float]:
    """The best peer on one case and k, and its Dice."""
    scored = {peer: result.dice for peer, result in peers[name, k].items() if result is not None}
    top = max(scored, key=scored.get)
    return top, scored[top]


def choose_settings(half: tuple[str, ...], peers, evidence) -> tuple[choice.Settings, int, float]:
    """The grid's settings with the fewest runs of `half` below the best peer − NEVER_WORSE, then the largest mean
    margin over the best peer; with that count and margin."""
    ranked = []
    for settings in GRID:
        margins = [automatic(load_case(name), k, evidence[name, k, with_image], settings, hd95=False)[0].dice
                   - best_peer(peers, name, k)[1]
                   for name, k, with_image in runs(half)]
        ranked.append((sum(m < -NEVER_WORSE for m in margins), -float(np.mean(margins)), settings))
    below, margin, settings = min(ranked, key=lambda entry: entry[:2])
    return settings, below, -margin


def small_structures(peers, evidence, chosen_for: dict[str, choice.Settings]) -> None:
    """The 41-organ CT's smallest structures on their own: held-out Dice per structure and k, the automatic method
    (settings from the other half) with and without the image against the best peer on that structure."""
    name = "41-organ CT"
    case = load_case(name)
    print(f"\n{name}, its smallest structures on their own (held-out Dice; automatic with / without the image, best peer):")
    for value, structure in SMALL_STRUCTURES.items():
        cells = []
        for k in KS:
            with_image, without = (automatic(case, k, evidence[name, k, image], chosen_for[name], hd95=False)[0]
                                   for image in (True, False))
            peer = max((result.per_label.get(value, 0.0), peer) for peer, result in peers[name, k].items() if result)
            cells.append(f"k={k} {with_image.per_label.get(value, 0.0):.2f} / {without.per_label.get(value, 0.0):.2f}, "
                         f"{peer[1]} {peer[0]:.2f}")
        print(f"  {structure:<24} " + "; ".join(cells), flush=True)


def run() -> None:
    """Choose the settings on each half, report the other: per case, k and image, the automatic method's held-out
    Dice against the best peer, Radlab's fixed methods beside, the goals, and the speed."""
    names = tuple(CASES)
    keyed = [(load_case(name), key_slices(load_case(name).labels, load_case(name).axis, k)) for name in names for k in KS]
    print(f"ITK MCI on {len(keyed)} key sets (one subprocess)…", flush=True)
    for (case, keys), result in zip(keyed, mci([(given_keys(case, keys), case.axis) for case, keys in keyed])):
        _mci_cache[case.name, tuple(keys)] = result
    peers = {(name, k): {peer: evaluate(name, k, peer) for peer in PEERS} for name in names for k in KS}
    evidence = {}
    for name, k, with_image in runs(names):
        print(f"weighing {name}, k={k}, {'with' if with_image else 'without'} the image…", flush=True)
        evidence[name, k, with_image] = weighed(load_case(name), k, with_image)
    reported: dict[tuple[str, int, bool], Score] = {}
    chosen_for: dict[str, choice.Settings] = {}  # case → the settings chosen on the other half
    for tuned, shown in (HALVES, HALVES[::-1]):
        settings, below, margin = choose_settings(tuned, peers, evidence)
        chosen_for |= dict.fromkeys(shown, settings)
        print(f"\nsettings chosen on {', '.join(tuned)}: {settings} ({below} run(s) below the best peer − {NEVER_WORSE}, "
              f"mean margin {margin:+.3f} there)\nreported on {', '.join(shown)}:")
        print(f"  {'case':<17} {'k':>2} {'image':<5} {'auto':>6} {'best peer':>19} {'margin':>7} "
              f"{'shape':>6} {'guided':>6} {'HD95':>6} {'s':>6}  chosen")
        for name, k, with_image in runs(shown):
            case = load_case(name)
            result, choices = automatic(case, k, evidence[name, k, with_image], settings)
            reported[name, k, with_image] = result
            peer, peer_dice = best_peer(peers, name, k)
            fixed = [candidate(case, k, evidence[name, k, with_image], method) if method in evidence[name, k, with_image].candidate_seconds
                     else None for method in FIXED]
            chosen = {}
            for made in choices.values():
                chosen[made.method] = chosen.get(made.method, 0) + 1
            print(f"  {name:<17} {k:>2} {'yes' if with_image else 'no':<5} {result.dice:6.3f} {peer:>13} {peer_dice:.3f} "
                  f"{result.dice - peer_dice:+7.3f} " + " ".join("   n/a" if f is None else f"{f.dice:6.3f}" for f in fixed)
                  + f" {result.hd95:6.2f} {result.seconds:6.2f}  " + ", ".join(f"{m} ×{n}" for m, n in sorted(chosen.items()))
                  + ("" if result.dice >= peer_dice - NEVER_WORSE else "  BELOW"), flush=True)
    small_structures(peers, evidence, chosen_for)
    margins = [reported[run_].dice - best_peer(peers, run_[0], run_[1])[1] for run_ in reported]
    below = [run_ for run_, m in zip(reported, margins) if m < -NEVER_WORSE]
    print(f"\ngoals, on the held-out halves ({len(reported)} case × k × image runs):")
    print(f"  never below the best peer − {NEVER_WORSE}: {len(below)} run(s) below"
          + (": " + "; ".join(f"{n} k={k} {'with' if i else 'without'} image" for n, k, i in below) if below else "")
          + (" (met)" if not below else " (not met)"))
    print(f"  mean margin over the best peer: {np.mean(margins):+.3f} (goal ≥ +{MEAN_MARGIN}: "
          f"{'met' if np.mean(margins) >= MEAN_MARGIN else 'not met'})")
    for (name, k), goal in GOALS.items():
        dice = reported[name, k, True].dice
        print(f"  {name} k={k} with the image: {dice:.3f} (goal ≥ {goal}: {'met' if dice >= goal else 'not met'})")
    print("\nprotocol check against issue 6's peer figures (nearest / signed distance / MCI):")
    for (name, k), expected in ISSUE_PEERS.items():
        print(f"  {name} k={k}: issue {' / '.join(f'{d:.3f}' for d in expected)}, here "
              + " / ".join("n/a" if m is None else f"{m.dice:.3f}" for m in peers[name, k].values()))
    slowest = max(reported, key=lambda run_: reported[run_].seconds)
    print(f"\nspeed (this machine): whole volume, slowest run ({slowest[0]} k={slowest[1]}): "
          f"{reported[slowest].seconds:.2f} s (goal ≤ {SECONDS_GOAL:.0f} s: "
          f"{'met' if reported[slowest].seconds <= SECONDS_GOAL else 'not met'})")
    ms = one_gap_ms(Method.AUTOMATIC)
    print(f"  one structure, one gap, 512×512, the live preview's automatic method: {ms:.0f} ms "
          f"(goal ≤ {ONE_GAP_MS_GOAL:.0f} ms: {'met' if ms <= ONE_GAP_MS_GOAL else 'not met'})")


if __name__ == "__main__":
    run()
    sys.exit(0)
