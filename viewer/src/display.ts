// What the viewer shows: window presets and colour maps (the same numbers and tables as the server's slice
// renders, so a view and GetSlice's PNG of one slice agree), in OHIF's names and hotkeys.

export interface Preset {
  key: string; // the server's WindowPreset name
  label: string;
  hotkey: string;
  center: number;
  width: number;
}

// Centre / width in HU, as services/ingestion/domain/slices.py's WindowPreset.
export const CT_PRESETS: Preset[] = [
  { key: 'CT_ABDOMEN', label: 'Soft tissue', hotkey: '1', center: 40, width: 400 },
  { key: 'CT_LUNG', label: 'Lung', hotkey: '2', center: -600, width: 1500 },
  { key: 'CT_LIVER', label: 'Liver', hotkey: '3', center: 30, width: 150 },
  { key: 'CT_BONE', label: 'Bone', hotkey: '4', center: 400, width: 1800 },
  { key: 'CT_BRAIN', label: 'Brain', hotkey: '5', center: 40, width: 80 },
  { key: 'CT_SUBDURAL', label: 'Subdural', hotkey: '6', center: 75, width: 215 },
  { key: 'CT_STROKE', label: 'Stroke', hotkey: '7', center: 40, width: 40 },
  { key: 'CT_MEDIASTINUM', label: 'Mediastinum', hotkey: '8', center: 50, width: 350 },
];

/** MR (and anything not CT): the 1st–99th percentile of the values, as the server's MR_AUTO. */
export function autoWindow(values: ArrayLike<number>): { center: number; width: number } {
  const step = Math.max(1, Math.floor(values.length / 200_000));
  const sample: number[] = [];
  for (let index = 0; index < values.length; index += step) sample.push(values[index]);
  sample.sort((a, b) => a - b);
  const low = sample[Math.floor(0.01 * (sample.length - 1))];
  const high = sample[Math.floor(0.99 * (sample.length - 1))];
  const width = Math.max(high - low, 1);
  return { center: low + width / 2, width };
}

type Anchor = [number, [number, number, number]];

function hex(position: number, code: string): Anchor {
  return [position, [0, 2, 4].map((at) => parseInt(code.slice(at, at + 2), 16) / 255) as [number, number, number]];
}

// The server's tables' anchors (piecewise linear between them).
export const COLORMAPS: Record<string, Anchor[]> = {
  gray: [[0, [0, 0, 0]], [1, [1, 1, 1]]],
  bone: [[0, [0, 0, 0]], [0.365, [0.319, 0.319, 0.444]], [0.746, [0.652, 0.782, 0.782]], [1, [1, 1, 1]]],
  hot: [[0, [0.0416, 0, 0]], [0.365, [1, 0, 0]], [0.746, [1, 1, 0]], [1, [1, 1, 1]]],
  viridis: ['440154', '482878', '3e4989', '31688e', '26828e', '1f9e89', '35b779', '6ece58', 'b5de2b', 'fde725']
    .map((code, index) => hex(index / 9, code)),
};

/** vtk's RGBPoints ([x, r, g, b, …], x in 0–1) of a colour map. */
export function rgbPoints(name: string): number[] {
  return COLORMAPS[name].flatMap(([x, [r, g, b]]) => [x, r, g, b]);
}

/** The class colour of a label value: its class's `#rrggbb`, else a fixed palette. */
const PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe'];

export function labelColour(value: number, classColour?: string): [number, number, number] {
  const code = (classColour && /^#?[0-9a-f]{6}$/i.test(classColour) ? classColour : PALETTE[(value - 1) % PALETTE.length])
    .replace('#', '');
  return [0, 2, 4].map((at) => parseInt(code.slice(at, at + 2), 16)) as [number, number, number];
}
