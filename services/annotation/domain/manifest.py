"""What one annotation version holds: each label's content per array slice k (a stored slice mask), where each
(plane, slice, label) came from, and its vector shapes and tags. Versions are immutable: a change makes a new manifest
from its parent's."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

DRAWN, ABSENT, INTERPOLATED, PREDICTED, IMPORTED = "drawn", "absent", "interpolated", "predicted", "imported"
PROVENANCES = (DRAWN, ABSENT, INTERPOLATED, PREDICTED, IMPORTED)
KEY_PROVENANCES = (DRAWN, ABSENT)  # what interpolation starts from


@dataclass(frozen=True)
class SliceContent:
    """One label's pixels on array slice k: the stored mask's content id and how many voxels it holds."""

    key: str
    voxels: int


@dataclass(frozen=True)
class Origin:
    """How one label's content on one slice of a plane was made, and by whom or what (subject, job, model, file)."""

    provenance: str
    source: str


@dataclass(frozen=True)
class Manifest:
    content: Mapping[tuple[int, int], SliceContent] = field(default_factory=dict)  # (label, k) → content
    origins: Mapping[tuple[str, int, int], Origin] = field(default_factory=dict)  # (plane, index, label) → origin
    # shape id → the shape as stored ({"label_value", "plane", "slice_index", geometry, "attributes", "measurement", …})
    shapes: Mapping[str, dict] = field(default_factory=dict)

    def label_values(self) -> list[int]:
        return sorted({label for label, _ in self.content})

    def voxels(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for (label, _), slice_content in self.content.items():
            counts[label] = counts.get(label, 0) + slice_content.voxels
        return counts

    def key_slices(self, plane: str) -> dict[int, tuple[list[int], list[int]]]:
        """Per label, its drawn and its absent key slices in `plane`, each sorted."""
        keys: dict[int, tuple[list[int], list[int]]] = {}
        for (origin_plane, index, label), origin in self.origins.items():
            if origin_plane == plane and origin.provenance in KEY_PROVENANCES:
                drawn, absent = keys.setdefault(label, ([], []))
                (drawn if origin.provenance == DRAWN else absent).append(index)
        return {label: (sorted(drawn), sorted(absent)) for label, (drawn, absent) in sorted(keys.items())}

    def changed(self, content: Mapping[tuple[int, int], SliceContent | None] = (),
                origins: Mapping[tuple[str, int, int], Origin | None] = ()) -> Manifest:
        """A new manifest: this one with `content` and `origins` replaced where given (None removes the entry)."""
        new_content = dict(self.content)
        for key, value in dict(content).items():
            if value is None or value.voxels == 0:
                new_content.pop(key, None)
            else:
                new_content[key] = value
        new_origins = dict(self.origins)
        for key, value in dict(origins).items():
            if value is None:
                new_origins.pop(key, None)
            else:
                new_origins[key] = value
        return Manifest(new_content, new_origins, self.shapes)

    def with_shapes(self, saved: Mapping[str, dict], removed: Iterable[str] = ()) -> Manifest:
        """A new manifest: this one with `saved` shapes added or replaced by id and `removed` ones gone."""
        shapes = {key: value for key, value in self.shapes.items() if key not in set(removed)}
        shapes.update(saved)
        return Manifest(self.content, self.origins, shapes)

    def shapes_changed(self, other: Manifest) -> dict[int, tuple[int, int, int]]:
        """Per label, the shapes (added, removed, changed) from `other` to this manifest."""
        counts: dict[int, list[int]] = {}
        for shape_id in set(self.shapes) | set(other.shapes):
            mine, theirs = self.shapes.get(shape_id), other.shapes.get(shape_id)
            if mine == theirs:
                continue
            slot = 0 if theirs is None else 1 if mine is None else 2
            label = (mine or theirs)["label_value"]
            counts.setdefault(label, [0, 0, 0])[slot] += 1
        return {label: tuple(values) for label, values in sorted(counts.items())}

    def without_labels(self, labels: Iterable[int]) -> Manifest:
        gone = set(labels)
        return Manifest({key: value for key, value in self.content.items() if key[0] not in gone},
                        {key: value for key, value in self.origins.items() if key[2] not in gone}, self.shapes)

    def slices_changed(self, other: Manifest) -> dict[int, list[int]]:
        """Per label, the slices k whose content differs between this manifest and `other`."""
        changed: dict[int, set[int]] = {}
        for key in set(self.content) | set(other.content):
            if self.content.get(key) != other.content.get(key):
                changed.setdefault(key[0], set()).add(key[1])
        return {label: sorted(ks) for label, ks in sorted(changed.items())}

    def to_bytes(self) -> bytes:
        document = {
            "content": [[label, k, c.key, c.voxels] for (label, k), c in sorted(self.content.items())],
            "origins": [[plane, index, label, o.provenance, o.source] for (plane, index, label), o in sorted(self.origins.items())],
            "shapes": dict(sorted(self.shapes.items())),
        }
        return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        document = json.loads(zlib.decompress(data))
        return cls(
            {(label, k): SliceContent(key, voxels) for label, k, key, voxels in document["content"]},
            {(plane, index, label): Origin(provenance, source) for plane, index, label, provenance, source in document["origins"]},
            document["shapes"],
        )
