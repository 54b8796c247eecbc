// One annotation being edited: the drawn label volume (what the user painted and accepted), the filled one
// (interpolated or model slices not yet accepted, drawn outlined), per-slice provenance, and saving only the axial
// slices that changed since the last save as key slices — the platform then fills between them.

import { cache } from '@cornerstonejs/core';
import { ApiError, rpc, type Json } from './api';

export interface Origin {
  provenance: string; // DRAWN, INTERPOLATED, PREDICTED, ABSENT, IMPORTED
  source: string;
}

const PLANE = 'PLANE_AXIAL';
const SLICES_PER_READ = 48;
const FILL_WAIT_MS = 90_000;

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let at = 0; at < bytes.length; at += 0x8000) text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(text);
}

function unbase64(text: string): Uint8Array {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let at = 0; at < raw.length; at++) bytes[at] = raw.charCodeAt(at);
  return bytes;
}

/** A SliceMask's pixels, one byte per pixel (non-zero inside), whether RAW or PNG. */
async function maskPixels(mask: Json): Promise<Uint8Array> {
  const bytes = unbase64(mask.data ?? '');
  if (mask.encoding !== 'MASK_ENCODING_PNG') return bytes;
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: 'image/png' }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d')!;
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const pixels = new Uint8Array(bitmap.width * bitmap.height);
  for (let at = 0; at < pixels.length; at++) pixels[at] = rgba[at * 4];
  return pixels;
}

/** Where each label on each axial slice came from, as GetAnnotation lists it. */
function originsOf(answer: Json): Map<number, Map<number, Origin>> {
  const origins = new Map<number, Map<number, Origin>>();
  for (const origin of answer.sliceOrigins ?? []) {
    if ((origin.plane ?? PLANE) !== PLANE) continue;
    const k = Number(origin.sliceIndex ?? 0);
    if (!origins.has(k)) origins.set(k, new Map());
    origins.get(k)!.set(Number(origin.labelValue ?? 0), { provenance: origin.provenance, source: origin.source ?? '' });
  }
  return origins;
}

export class Annotation {
  annotationId = '';
  version = 0;
  state = '';
  origins = new Map<number, Map<number, Origin>>(); // axial slice → label → where it came from
  private baseline: Uint8Array;
  overlaid: Json | null = null; // the other annotation shown outlined (a model's, a reader's), if any
  private acceptedPrediction: Uint8Array | null = null; // a model's labels as accepted, to save unchanged slices as PREDICTED
  readonly sliceSize: number;
  readonly slices: number;
  readonly rows: number;
  readonly columns: number;

  constructor(readonly itemId: string, readonly drawnId: string, readonly filledId: string, dims: number[]) {
    [this.columns, this.rows] = dims;
    this.sliceSize = dims[0] * dims[1];
    this.slices = dims[2];
    this.baseline = new Uint8Array(this.sliceSize * this.slices);
  }

  private array(volumeId: string): Uint8Array {
    return cache.getVolume(volumeId)!.voxelManager!.getCompleteScalarDataArray!() as Uint8Array;
  }

  private store(volumeId: string, values: Uint8Array): void {
    cache.getVolume(volumeId)!.voxelManager!.setCompleteScalarDataArray!(values);
  }

  get drawn(): Uint8Array {
    return this.array(this.drawnId);
  }

  /** Axial slices whose drawn content differs from the last load or save. */
  changedSlices(): number[] {
    const now = this.drawn;
    const changed: number[] = [];
    for (let k = 0; k < this.slices; k++) {
      const from = k * this.sliceSize;
      for (let at = from; at < from + this.sliceSize; at++) {
        if (now[at] !== this.baseline[at]) {
          changed.push(k);
          break;
        }
      }
    }
    return changed;
  }

  /** Loads the current version: drawn slices filled, interpolated and predicted ones outlined. */
  async load(annotationId: string): Promise<void> {
    const head = await rpc('annotation', 'GetAnnotation', { annotationId });
    this.adopt(head);
    const [drawn, filled] = await this.content(annotationId, this.version, this.origins);
    this.store(this.drawnId, drawn);
    this.store(this.filledId, filled);
    this.baseline = drawn.slice();
    this.overlaid = null;
  }

  /** Shows another annotation outlined — a model's pre-labels, or a consensus reader's labels — to accept or correct. */
  async overlay(annotationId: string): Promise<Json> {
    const head = await rpc('annotation', 'GetAnnotation', { annotationId });
    const origins = originsOf(head);
    const [drawn, filled] = await this.content(annotationId, Number(head.annotation?.version ?? 0), origins);
    for (let at = 0; at < filled.length; at++) if (drawn[at]) filled[at] = drawn[at];
    this.store(this.filledId, filled);
    this.overlaid = head.annotation ?? {};
    return this.overlaid!;
  }

  /** The content of `version` on the axial slices `origins` lists: [drawn, interpolated or predicted] label arrays. */
  private async content(annotationId: string, version: number, origins: Map<number, Map<number, Origin>>):
    Promise<[Uint8Array, Uint8Array]> {
    const drawn = new Uint8Array(this.sliceSize * this.slices);
    const filled = new Uint8Array(this.sliceSize * this.slices);
    const indices = [...origins.keys()].sort((a, b) => a - b);
    for (let at = 0; at < indices.length; at += SLICES_PER_READ) {
      const answer = await rpc('annotation', 'GetAnnotation', {
        annotationId, version: String(version), plane: PLANE, sliceIndices: indices.slice(at, at + SLICES_PER_READ),
      });
      for (const slice of answer.slices ?? []) {
        if (!slice.mask || (slice.plane ?? PLANE) !== PLANE) continue;
        const k = Number(slice.sliceIndex ?? 0);
        const value = Number(slice.labelValue ?? 0);
        const origin = origins.get(k)?.get(value);
        const target = origin && (origin.provenance === 'SLICE_PROVENANCE_INTERPOLATED' ||
          origin.provenance === 'SLICE_PROVENANCE_PREDICTED') ? filled : drawn;
        const pixels = await maskPixels(slice.mask);
        const from = k * this.sliceSize;
        for (let p = 0; p < pixels.length; p++) if (pixels[p]) target[from + p] = value;
      }
    }
    return [drawn, filled];
  }

  private adopt(answer: Json): void {
    const annotation = answer.annotation ?? {};
    this.annotationId = annotation.annotationId ?? this.annotationId;
    this.version = Number(annotation.version ?? 0);
    this.state = annotation.state ?? '';
    this.origins = originsOf(answer);
  }

  /** Before the user edits slice k: its outlined (filled) content becomes drawn, so the edit starts from it. */
  takeOver(k: number): boolean {
    const filled = this.array(this.filledId);
    const from = k * this.sliceSize;
    let moved = false;
    let drawn: Uint8Array | null = null;
    for (let at = from; at < from + this.sliceSize; at++) {
      if (!filled[at]) continue;
      drawn ??= this.drawn;
      if (!drawn[at]) drawn[at] = filled[at];
      filled[at] = 0;
      moved = true;
    }
    if (moved) {
      this.store(this.drawnId, drawn!);
      this.store(this.filledId, filled);
    }
    return moved;
  }

  /** Accepts every outlined slice as it is. The platform's own fill is already saved (it stays as it was); another
   * annotation's labels (a model's pre-labels, a reader's) become this one's, saved as key slices — a model's slices
   * kept unchanged as PREDICTED. */
  acceptFilled(): void {
    const filled = this.array(this.filledId);
    const drawn = this.drawn;
    const ours = this.overlaid === null;
    for (let at = 0; at < filled.length; at++) {
      if (filled[at] && !drawn[at]) {
        drawn[at] = filled[at];
        if (ours) this.baseline[at] = filled[at];
      }
    }
    if (!ours && this.overlaid!.modelId) this.acceptedPrediction = filled.slice();
    this.overlaid = null;
    this.store(this.drawnId, drawn);
    this.store(this.filledId, new Uint8Array(filled.length));
  }

  /** Makes what is shown a new annotation of the caller's: every slice with a label is saved as a key slice. */
  startNew(): void {
    this.annotationId = '';
    this.version = 0;
    this.baseline = new Uint8Array(this.baseline.length);
  }

  /** Whether label `value` on slice k is exactly as the accepted model labels had it. */
  private asPredicted(now: Uint8Array, k: number, value: number): boolean {
    const predicted = this.acceptedPrediction;
    if (!predicted) return false;
    for (let at = k * this.sliceSize; at < (k + 1) * this.sliceSize; at++) {
      if ((now[at] === value) !== (predicted[at] === value)) return false;
    }
    return true;
  }

  /** Saves the changed axial slices as key slices (DRAWN, or ABSENT where a label was erased); the new version. */
  async save(): Promise<{ saved: number[]; version: number }> {
    const changed = this.changedSlices();
    if (!changed.length) return { saved: [], version: this.version };
    const now = this.drawn;
    const keySlices: Json[] = [];
    for (const k of changed) {
      const from = k * this.sliceSize;
      const values = new Set<number>();
      for (let at = from; at < from + this.sliceSize; at++) {
        if (now[at]) values.add(now[at]);
        if (this.baseline[at]) values.add(this.baseline[at]);
      }
      for (const value of values) {
        const mask = new Uint8Array(this.sliceSize);
        let any = false;
        for (let p = 0; p < this.sliceSize; p++) if (now[from + p] === value) { mask[p] = 1; any = true; }
        keySlices.push(any
          ? { plane: PLANE, sliceIndex: k, labelValue: value,
              provenance: this.asPredicted(now, k, value) ? 'SLICE_PROVENANCE_PREDICTED' : 'SLICE_PROVENANCE_DRAWN',
              mask: { rows: this.rows, columns: this.columns, encoding: 'MASK_ENCODING_RAW', data: base64(mask) } }
          : { plane: PLANE, sliceIndex: k, labelValue: value, provenance: 'SLICE_PROVENANCE_ABSENT' });
      }
    }
    let answer: Json;
    for (let attempt = 0; ; attempt++) {
      try {
        answer = await rpc('annotation', 'SaveKeySlices', {
          itemId: this.itemId, annotationId: this.annotationId, baseVersion: String(this.version), keySlices,
        });
        break;
      } catch (error) {
        // The platform's fill of the previous save landed meanwhile: it changed no drawn slice, so take it and save.
        const stale = error instanceof ApiError && error.status === 409 && attempt < 3;
        if (!stale || !(await this.onlyFilledSince())) throw error;
        await this.refreshFilled(changed);
      }
    }
    this.annotationId = answer.annotationId;
    this.version = Number(answer.version);
    this.baseline = now.slice();
    this.acceptedPrediction = null;
    for (const k of changed) {
      const labels = new Map<number, Origin>();
      for (let at = k * this.sliceSize; at < (k + 1) * this.sliceSize; at++) {
        if (now[at]) labels.set(now[at], { provenance: 'SLICE_PROVENANCE_DRAWN', source: 'you' });
      }
      this.origins.set(k, labels);
    }
    return { saved: changed, version: this.version };
  }

  /** Whether every version after ours was the platform's fill (interpolated slices applied), not someone's edit. */
  private async onlyFilledSince(): Promise<boolean> {
    const newer: Json[] = [];
    let pageToken = '';
    do {
      const page = await rpc('annotation', 'ListAnnotationVersions', { annotationId: this.annotationId, pageSize: 500, pageToken });
      newer.push(...(page.versions ?? []).filter((v: Json) => Number(v.version) > this.version));
      pageToken = page.nextPageToken ?? '';
    } while (pageToken);
    return newer.length > 0 && newer.every((v) => v.change === 'ANNOTATION_CHANGE_SLICES_INTERPOLATED');
  }

  /** Adopts the current version's filled slices and provenance, keeping what was drawn here (and not yet saved). */
  private async refreshFilled(editing: number[]): Promise<void> {
    const head = await rpc('annotation', 'GetAnnotation', { annotationId: this.annotationId });
    const drawnOrigins = this.origins;
    this.adopt(head);
    const [, filled] = await this.content(this.annotationId, this.version, this.origins);
    for (const k of editing) {
      filled.fill(0, k * this.sliceSize, (k + 1) * this.sliceSize);
      if (drawnOrigins.has(k)) this.origins.set(k, drawnOrigins.get(k)!);
    }
    this.store(this.filledId, filled);
  }

  /** Waits for the platform's fill of the saved key slices (a newer version than `after`), then loads it. */
  async awaitFill(after: number): Promise<boolean> {
    const deadline = Date.now() + FILL_WAIT_MS;
    while (Date.now() < deadline) {
      const head = await rpc('annotation', 'GetAnnotation', { annotationId: this.annotationId });
      if (Number(head.annotation?.version ?? 0) > after) {
        await this.load(this.annotationId);
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return false;
  }

  async submit(): Promise<void> {
    const answer = await rpc('annotation', 'SubmitAnnotation', { annotationId: this.annotationId, version: String(this.version) });
    this.state = answer.annotation?.state ?? this.state;
  }

  /** Who saved the version that made ours stale, for the conflict message. */
  async newerBy(): Promise<string> {
    try {
      const answer = await rpc('annotation', 'ListAnnotationVersions', { annotationId: this.annotationId });
      const versions = answer.versions ?? [];
      const newest = versions.reduce((a: Json, b: Json) => (Number(b.version) > Number(a.version) ? b : a), versions[0] ?? {});
      return `${newest.author || 'someone'} (version ${newest.version ?? '?'})`;
    } catch (error) {
      return error instanceof ApiError ? error.message : 'someone';
    }
  }
}
