// An item's image as a Cornerstone volume built in the browser from the gateway's raw voxel chunks and the
// item's geometry (Radlab's [k, j, i] array and LPS affine become Cornerstone's [i, j, k] dimensions,
// spacing, direction and origin; the voxels are laid out the same way, so they are used as they come).

import { cache, imageLoader, metaData, volumeLoader, type Types } from '@cornerstonejs/core';
import { volumeData, type Json } from './api';

const firstWindow = new Map<string, { center: number; width: number; modality: string }>(); // volume id → its first window

/** Volumes here are built in the page (ids `radlab:…`): their slices' images are already cached, never fetched, and
 * their first window and modality come from here (Cornerstone's metadata for an image id `<volume id>_slice_<k>`). */
export function registerLoader(): void {
  imageLoader.registerImageLoader('radlab', (imageId: string) => ({
    promise: Promise.resolve(cache.getImage(imageId) as Types.IImage),
  }) as any);
  metaData.addProvider((type: string, imageId: string) => {
    if (typeof imageId !== 'string' || !imageId.startsWith('radlab:')) return undefined;
    const known = firstWindow.get(imageId.replace(/_slice_\d+$/, ''));
    if (!known) return undefined;
    if (type === 'voiLutModule') return { windowCenter: [known.center], windowWidth: [known.width] };
    if (type === 'generalSeriesModule') return { modality: known.modality };
    return undefined;
  }, 10_000);
}

export type Voxels = Int16Array | Uint16Array | Uint8Array | Int8Array | Float32Array;

const CHUNK_BYTES = 16 << 20;

export interface Grid {
  dimensions: Types.Point3; // [i, j, k]
  spacing: Types.Point3;
  origin: Types.Point3;
  direction: Types.Mat3;
  timePoints: number;
  fourthAxis: string;
}

/** Cornerstone's grid of a Radlab Geometry (shape [k, j, i], row-major 4x4 affine from (i, j, k, 1) to LPS mm). */
export function gridOf(geometry: Json): Grid {
  const [k, j, i] = geometry.shape.map(Number);
  const a = geometry.affine.map(Number);
  const column = (c: number) => [a[c], a[4 + c], a[8 + c]];
  const norms = [0, 1, 2].map((c) => Math.hypot(...column(c)));
  const direction = [0, 1, 2].flatMap((c) => column(c).map((v) => v / norms[c]));
  return {
    dimensions: [i, j, k],
    spacing: norms as Types.Point3,
    origin: [a[3], a[7], a[11]],
    direction: direction as Types.Mat3,
    timePoints: Number(geometry.timePoints ?? 0),
    fourthAxis: geometry.fourthAxis ?? '',
  };
}

function typed(dtype: string, bytes: ArrayBuffer): Voxels {
  switch (dtype) {
    case 'int16': return new Int16Array(bytes);
    case 'uint16': return new Uint16Array(bytes);
    case 'uint8': return new Uint8Array(bytes);
    case 'int8': return new Int8Array(bytes);
    case 'float32': return new Float32Array(bytes);
    case 'int32': return Float32Array.from(new Int32Array(bytes));
    case 'uint32': return Float32Array.from(new Uint32Array(bytes));
    case 'float64': return Float32Array.from(new Float64Array(bytes));
    default: throw new Error(`the viewer cannot show voxels of type ${dtype}`);
  }
}

/** The grid of every `every`-th slice of `grid` (a volume too large for the browser, opened at reduced resolution). */
export function thinned(grid: Grid, every: number): Grid {
  if (every <= 1) return grid;
  const [i, j, k] = grid.dimensions;
  return { ...grid, dimensions: [i, j, Math.ceil(k / every)], spacing: [grid.spacing[0], grid.spacing[1], grid.spacing[2] * every] };
}

/** Every `every`-th slice (all by default) of one time point, fetched in chunks; `progress` gets the fraction done. */
export async function fetchVoxels(volumeId: string, grid: Grid, dtypeBytes: number, time: number,
  progress: (done: number) => void, every = 1): Promise<{ voxels: Voxels; bytes: number }> {
  const [i, j, k] = grid.dimensions;
  const sliceSize = i * j;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / (sliceSize * dtypeBytes)));
  let voxels: Voxels | null = null;
  let bytes = 0;
  for (let first = 0; first < k; first += perChunk) {
    const block = await volumeData(volumeId, first, Math.min(perChunk, k - first), time);
    const part = typed(block.dtype, block.bytes);
    const Kind = part.constructor as { new (length: number): Voxels };
    voxels ??= new Kind(sliceSize * Math.ceil(k / every));
    for (let slice = first; slice < first + part.length / sliceSize; slice++) {
      if (slice % every) continue;
      const offset = (slice - first) * sliceSize;
      voxels.set(part.subarray(offset, offset + sliceSize) as any, (slice / every) * sliceSize);
    }
    bytes += block.bytes.byteLength;
    progress(Math.min(1, (first + perChunk) / k));
  }
  return { voxels: voxels!, bytes };
}

export const DTYPE_BYTES: Record<string, number> = {
  DATA_TYPE_UINT8: 1, DATA_TYPE_INT8: 1, DATA_TYPE_INT16: 2, DATA_TYPE_UINT16: 2,
  DATA_TYPE_INT32: 4, DATA_TYPE_UINT32: 4, DATA_TYPE_FLOAT32: 4, DATA_TYPE_FLOAT64: 8,
};

/** A Cornerstone image volume of the voxels on the grid, first shown with `window`. */
export function imageVolume(volumeId: string, grid: Grid, voxels: Voxels, modality: string,
  window: { center: number; width: number }): Types.IImageVolume {
  firstWindow.set(volumeId, { ...window, modality });
  return volumeLoader.createLocalVolume(volumeId, {
    dimensions: grid.dimensions,
    spacing: grid.spacing,
    origin: grid.origin,
    direction: grid.direction,
    scalarData: voxels as any,
    metadata: {
      BitsAllocated: voxels.BYTES_PER_ELEMENT * 8,
      BitsStored: voxels.BYTES_PER_ELEMENT * 8,
      SamplesPerPixel: 1,
      HighBit: voxels.BYTES_PER_ELEMENT * 8 - 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelRepresentation: voxels instanceof Int16Array || voxels instanceof Int8Array ? 1 : 0,
      Modality: modality || 'OT',
      ImageOrientationPatient: Array.from(grid.direction.slice(0, 6)),
      PixelSpacing: [grid.spacing[1], grid.spacing[0]],
      FrameOfReferenceUID: '',
      Columns: grid.dimensions[0],
      Rows: grid.dimensions[1],
      voiLut: [{ windowCenter: window.center, windowWidth: window.width }],
      VOILUTFunction: 'LINEAR',
    } as any,
  });
}

/** An empty label volume (one uint8 class value per voxel) on the image's grid. */
export function labelVolume(volumeId: string, grid: Grid): Types.IImageVolume {
  const [i, j, k] = grid.dimensions;
  return volumeLoader.createLocalVolume(volumeId, {
    dimensions: grid.dimensions,
    spacing: grid.spacing,
    origin: grid.origin,
    direction: grid.direction,
    scalarData: new Uint8Array(i * j * k),
    metadata: {
      BitsAllocated: 8, BitsStored: 8, SamplesPerPixel: 1, HighBit: 7, PhotometricInterpretation: 'MONOCHROME2',
      PixelRepresentation: 0, Modality: 'SEG', ImageOrientationPatient: Array.from(grid.direction.slice(0, 6)),
      PixelSpacing: [grid.spacing[1], grid.spacing[0]], FrameOfReferenceUID: '', Columns: i, Rows: j, voiLut: [],
      VOILUTFunction: 'LINEAR',
    } as any,
  });
}
