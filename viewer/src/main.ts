// The viewer's screens: the worklist (my tasks by stage, the dataset browser) and the study (MPR, tools, segments,
// key slices and filling, save / submit / review); hotkeys follow OHIF's where it has one.

import { init as coreInit, cache, utilities, type Types } from '@cornerstonejs/core';
import { init as toolsInit } from '@cornerstonejs/tools';
import { ApiError, banner, me, rpc, thumbnail, type Json, type Me } from './api';
import { CT_PRESETS, autoWindow, labelColour } from './display';
import { Annotation } from './labels';
import { Mpr, TOOLS, VIEWS } from './mpr';
import { DTYPE_BYTES, fetchVoxels, gridOf, imageVolume, labelVolume, registerLoader, thinned, type Grid } from './volume';

interface Open {
  item: Json;
  task: Json | null;
  grid: Grid;
  imageId: string;
  annotation: Annotation;
  classes: Json[];
  time: number;
  every: number; // 1, or n when only every n-th slice fits in the browser (then read only)
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const h = (tag: string, attributes: Record<string, any> = {}, ...children: (Node | string)[]) => {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith('on')) (element as any)[key] = value;
    else if (value !== false && value !== undefined) element.setAttribute(key, String(value));
  }
  element.append(...children);
  return element;
};

let user: Me;
let mpr: Mpr | null = null;
let open: Open | null = null;
let opening = 0;

/** What tests and the benchmark read: timings and where the screen stands. */
const state: Record<string, any> = { ready: false, timings: {} };
(window as any).radlab = state;

function say(message: string, kind: 'info' | 'error' = 'info'): void {
  const line = $('messages');
  if (!line) return;
  line.textContent = message;
  line.className = kind;
}

async function main(): Promise<void> {
  await coreInit();
  toolsInit();
  registerLoader();
  user = await me();
  $('who').textContent = `${user.subject} · ${user.role}${user.vendor ? ` · ${user.vendor}` : ''}`;
  $('to-worklist').onclick = () => showWorklist();
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', hotkey);
  window.addEventListener('beforeunload', (event) => {
    if (open && open.annotation.changedSlices().length) event.preventDefault();
  });
  await route();
}

async function route(): Promise<void> {
  const where = new URLSearchParams(location.hash.slice(1));
  if (where.get('item')) await openItem(where.get('item')!, where.get('task'));
  else await showWorklist();
}

// ---------------------------------------------------------------- worklist

async function showWorklist(): Promise<void> {
  if (location.hash) history.replaceState(null, '', location.pathname);
  closeStudy();
  $('study').hidden = true;
  const list = $('worklist');
  list.hidden = false;
  list.replaceChildren(h('h2', {}, 'My tasks'), h('div', { id: 'tasks' }, 'Loading…'),
    h('h2', {}, 'Datasets'), h('div', { id: 'datasets' }, 'Loading…'));
  state.ready = false;
  await Promise.all([showTasks(), showDatasets()]);
  state.worklist = true;
}

async function showTasks(): Promise<void> {
  const box = $('tasks');
  let tasks: Json[] = [];
  try {
    tasks = (await rpc('workflow', 'ListTasks', { assignee: user.subject, state: 'TASK_STATE_ASSIGNED', pageSize: 200 })).tasks ?? [];
  } catch (error) {
    box.textContent = error instanceof ApiError && error.status === 403 ? 'Your role has no tasks.' : String(error);
    return;
  }
  const byStage = new Map<string, Json[]>();
  for (const task of tasks) {
    const key = `${task.stageId} (${String(task.stageKind).replace('STAGE_KIND_', '').toLowerCase()})`;
    byStage.set(key, [...(byStage.get(key) ?? []), task]);
  }
  box.replaceChildren();
  for (const [stage, stageTasks] of byStage) {
    box.append(h('h3', {}, stage), h('ul', {}, ...stageTasks.map((task) =>
      h('li', {}, h('a', { href: `#item=${task.itemId}&task=${task.taskId}`, 'data-task': task.taskId },
        `${task.itemId}${task.comment ? ` — “${task.comment}”` : ''}`)))));
  }
  if (!tasks.length) box.append(h('p', {}, 'No task is assigned to you.'));
  const workflows: Json[] = await rpc('workflow', 'ListWorkflows', {}).then((a) => a.workflows ?? [], () => []);
  for (const workflow of workflows) {
    for (const stage of workflow.stages ?? []) {
      if (!['STAGE_KIND_ANNOTATE', 'STAGE_KIND_REVIEW', 'STAGE_KIND_CONSENSUS'].includes(stage.kind)) continue;
      box.append(h('button', {
        'data-next': `${workflow.workflowId}/${stage.stageId}`,
        onclick: () => claimNext(workflow.workflowId, stage.stageId),
      }, `Open next task: ${workflow.name || workflow.workflowId} · ${stage.stageId}`));
    }
  }
}

async function claimNext(workflowId: string, stageId: string): Promise<void> {
  try {
    const { task } = await rpc('workflow', 'ClaimTask', { workflowId, stageId });
    location.hash = `item=${task.itemId}&task=${task.taskId}`;
  } catch (error) {
    banner(error instanceof ApiError ? error.message : String(error));
  }
}

async function showDatasets(): Promise<void> {
  const box = $('datasets');
  const datasets: Json[] = (await rpc('annotation', 'ListDatasets', {})).datasets ?? [];
  const filters = h('form', { id: 'filters' },
    h('select', { name: 'dataset' }, ...datasets.map((d) => h('option', { value: d.datasetId }, d.name))),
    h('input', { name: 'text', placeholder: 'search' }),
    h('input', { name: 'modality', placeholder: 'modality', size: 6 }),
    h('input', { name: 'bodyPart', placeholder: 'body part', size: 8 }),
    h('button', {}, 'Filter')) as HTMLFormElement;
  const items = h('div', { id: 'items' });
  filters.onsubmit = async (event) => {
    event.preventDefault();
    const form = new FormData(filters);
    const answer = await rpc('annotation', 'ListItems', {
      datasetId: form.get('dataset'), text: form.get('text'), modality: form.get('modality'),
      bodyPart: form.get('bodyPart'), pageSize: 60,
    });
    items.replaceChildren(...(answer.items ?? []).map((item: Json) => {
      const image = h('img', { alt: '', width: 96, height: 96 }) as HTMLImageElement;
      thumbnail(item.volumeId).then((url) => { image.src = url; });
      return h('a', { class: 'item', href: `#item=${item.itemId}`, 'data-item': item.itemId }, image,
        h('span', {}, item.displayName || item.seriesDescription || item.itemId),
        h('small', {}, `${item.modality} · ${item.stageId || (item.completed ? 'completed' : '')}`));
    }));
  };
  box.replaceChildren(datasets.length ? filters : h('p', {}, 'No dataset is shared with you.'), items);
  if (datasets.length) filters.requestSubmit();
}

// ---------------------------------------------------------------- study

function closeStudy(): void {
  mpr?.destroy();
  mpr = null;
  if (open) {
    cache.removeVolumeLoadObject(open.imageId);
    cache.removeVolumeLoadObject(open.annotation.drawnId);
    cache.removeVolumeLoadObject(open.annotation.filledId);
  }
  open = null;
}

async function openItem(itemId: string, taskId: string | null): Promise<void> {
  const started = performance.now();
  const ticket = ++opening;
  closeStudy();
  state.ready = false;
  state.timings = {};
  $('worklist').hidden = true;
  $('study').hidden = false;
  buildPanel();
  const [{ item }, task] = await Promise.all([
    itemOnceVisible(itemId),
    taskId ? rpc('workflow', 'GetTask', { taskId }).then((a) => a.task) : Promise.resolve(null),
  ]);
  const ref = item.volumeRef ?? {};
  const fullGrid = gridOf(ref.geometry);
  const every = reduction(fullGrid);
  const grid = thinned(fullGrid, every);
  $('item-title').textContent = `${item.displayName || item.seriesDescription || item.itemId} · ${item.modality}`;
  placeholder(item.volumeId, Math.floor(grid.dimensions[2] / 2));
  const classes: Json[] = (await rpc('annotation', 'ListLabelClasses', { datasetId: item.datasetId })).labelClasses ?? [];
  const { voxels, bytes } = await fetchVoxels(item.volumeId, fullGrid, DTYPE_BYTES[ref.dtype] ?? 2, 0,
    (done) => say(`Loading the volume… ${Math.round(done * 100)} %`), every);
  if (ticket !== opening) return;
  state.timings.dataMs = performance.now() - started;
  state.bytes = bytes;
  const imageId = `radlab:image:${item.volumeId}`;
  imageVolume(imageId, grid, voxels, item.modality, defaultWindow(item.modality, voxels));
  const drawnId = `radlab:drawn:${item.itemId}`;
  const filledId = `radlab:filled:${item.itemId}`;
  labelVolume(drawnId, grid);
  labelVolume(filledId, grid);
  const annotation = new Annotation(item.itemId, drawnId, filledId, grid.dimensions);
  open = { item, task, grid, imageId, annotation, classes, time: 0, every };
  const single = grid.dimensions[2] === 1; // a radiograph: one view
  $('views').classList.toggle('single', single);
  mpr = new Mpr(single ? VIEWS.filter((view) => view.id === 'axial') : VIEWS);
  await mpr.show(imageId);
  const mine = task?.annotationId ||
    (item.annotations ?? []).find((a: Json) => a.annotator === user.subject && !a.modelId)?.annotationId ||
    (task ? '' : (item.annotations ?? [])[0]?.annotationId) || '';
  const prediction = every > 1 || mine ? null : (item.annotations ?? []).find((a: Json) => a.modelId);
  if (every > 1) readOnly();
  else if (mine) await annotation.load(mine);
  else if (prediction) await annotation.overlay(prediction.annotationId);
  const values = classes.map((c) => Number(c.value));
  const colours = new Map(classes.map((c) => [Number(c.value), labelColour(Number(c.value), c.color)]));
  mpr.addLabels(filledId, filledId, values, colours, true);
  mpr.addLabels(drawnId, drawnId, values, colours, false);
  if (values.length) mpr.setActiveSegmentation(drawnId, values[0]);
  $('placeholder')?.remove();
  mpr.brushSize(5);
  watchEdits();
  fillPanel();
  state.timings.mprMs = performance.now() - started;
  state.itemId = item.itemId;
  state.ready = true;
  state.every = every;
  if (every > 1) {
    say(`This volume is too large for this browser's memory: it is shown at reduced resolution (every ${every}th slice), ` +
      'read only. Open it on a machine with more memory to label it.', 'error');
    return;
  }
  say(prediction ? `Pre-labels of model ${prediction.modelId} are outlined: accept them, or edit a slice to correct it.`
    : task?.comment ? `Reviewer's comment: “${task.comment}”` : 'Ready.');
}

/** A volume opened at reduced resolution: its labels' grid is not the one shown, so nothing can be drawn or saved. */
function readOnly(): void {
  const editing = Object.entries(TOOLS).filter(([, tool]) => tool.labels).map(([name]) => `[data-tool=${name}]`);
  document.querySelectorAll<HTMLButtonElement>(['#actions button', '#undo', '#redo', ...editing].join(','))
    .forEach((button) => { button.disabled = true; });
}

/** The item; a task just claimed makes it visible a moment later (annotation hears of the claim by an event). */
async function itemOnceVisible(itemId: string): Promise<Json> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rpc('annotation', 'GetItem', { itemId });
    } catch (error) {
      const waiting = error instanceof ApiError && (error.status === 403 || error.status === 404) && attempt < 20;
      if (!waiting) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** 1 when the volume fits the browser's memory budget, else the slice step that makes it fit (the budget: `#budget=MiB`
 * in the address, else a quarter of the device's memory, at most 2 GiB; voxels are held as 16 or 32 bits). */
function reduction(grid: Grid): number {
  const given = Number(new URLSearchParams(location.hash.slice(1)).get('budget'));
  const device = ((navigator as any).deviceMemory ?? 8) * 1024;
  const budget = (given > 0 ? given : Math.min(2048, device / 4)) * (1 << 20);
  const [i, j, k] = grid.dimensions;
  const needed = i * j * k * 4;
  return needed <= budget ? 1 : Math.ceil(needed / budget);
}

/** The server's PNG of the middle axial slice, shown while the volume loads (the first image, at once). */
function placeholder(volumeId: string, sliceIndex: number): void {
  const started = performance.now();
  const image = h('img', { id: 'placeholder', alt: 'loading' }) as HTMLImageElement;
  image.onload = () => { state.timings.firstImageMs = performance.now() - started; };
  rpc('ingestion', 'GetSlice', { volumeId, plane: 'PLANE_AXIAL', format: 'SLICE_FORMAT_PNG', sliceIndex })
    .then((answer) => { image.src = `data:image/png;base64,${answer.data}`; }, () => undefined);
  $('view-axial').append(image);
}

/** The CT soft-tissue preset for CT, the 1st–99th percentile otherwise (the server's defaults). */
function defaultWindow(modality: string, voxels: ArrayLike<number>): { center: number; width: number } {
  const chosen = modality === 'CT' ? CT_PRESETS[0] : autoWindow(voxels);
  state.window = modality === 'CT' ? { center: chosen.center, width: chosen.width, preset: CT_PRESETS[0].key } : chosen;
  return { center: chosen.center, width: chosen.width };
}

function preset(key: string): void {
  const chosen = CT_PRESETS.find((p) => p.key === key);
  if (!chosen || !mpr) return;
  mpr.window(chosen.center, chosen.width);
  state.window = { center: chosen.center, width: chosen.width, preset: key };
  ($('preset') as HTMLSelectElement).value = key;
}

/** Before a label tool touches an axial slice, its outlined (filled) content becomes the drawn start. */
function watchEdits(): void {
  const axial = $('view-axial');
  axial.addEventListener('mousedown', () => {
    if (!open || !mpr || !TOOLS[mpr.activeTool].labels) return;
    if (open.annotation.takeOver(mpr.axialSlice(open.imageId))) {
      mpr.labelsChanged(open.annotation.drawnId);
      mpr.labelsChanged(open.annotation.filledId);
    }
  }, true);
  for (const view of mpr!.views) {
    if (view.id === 'axial') continue;
    $(view.element).addEventListener('mousedown', (event) => {
      if (mpr && TOOLS[mpr.activeTool].labels && event.button === 0) {
        event.stopImmediatePropagation();
        say('Key slices are drawn in the axial view; the others show them.', 'error');
      }
    }, true);
  }
  for (const view of mpr!.views) {
    $(view.element).addEventListener(
      'CORNERSTONE_STACK_NEW_IMAGE' as any, () => showProvenance());
    $(view.element).addEventListener('wheel', () => setTimeout(showProvenance, 0));
  }
}

function buildPanel(): void {
  const bar = $('toolbar');
  bar.replaceChildren(
    ...Object.entries(TOOLS).map(([name, tool]) =>
      h('button', { 'data-tool': name, title: `${tool.label} (${tool.hotkey.toUpperCase()})`, onclick: () => useTool(name) }, tool.label)),
    h('select', { id: 'preset', title: 'Window preset (1–8)', onchange: (e: Event) => preset((e.target as HTMLSelectElement).value) },
      ...CT_PRESETS.map((p) => h('option', { value: p.key }, `${p.hotkey} ${p.label}`))),
    h('select', { id: 'colormap', onchange: () => recolour() },
      ...['gray', 'hot', 'bone', 'viridis'].map((name) => h('option', { value: name }, name))),
    h('label', {}, h('input', { type: 'checkbox', id: 'invert', onchange: () => recolour() }), 'invert (I)'),
    h('label', {}, 'brush mm ', h('input', { type: 'number', id: 'brush-size', value: 5, min: 1, max: 50, size: 3,
      onchange: (e: Event) => mpr?.brushSize(Number((e.target as HTMLInputElement).value)) })),
    h('button', { id: 'undo', title: 'Undo (Ctrl+Z)', onclick: () => undo(false) }, 'Undo'),
    h('button', { id: 'redo', title: 'Redo (Ctrl+Y)', onclick: () => undo(true) }, 'Redo'),
    h('button', { id: 'toggle-3d', onclick: () => toggle3d() }, '3D'),
  );
  const panel = $('panel');
  panel.replaceChildren(
    h('div', { id: 'messages' }),
    h('h3', {}, 'Segments'), h('ul', { id: 'segments' }),
    h('label', {}, 'opacity ', h('input', { type: 'range', id: 'opacity', min: 0, max: 1, step: 0.05, value: 0.5,
      oninput: (e: Event) => open && mpr?.setOpacity(open.annotation.drawnId, Number((e.target as HTMLInputElement).value)) })),
    h('h3', {}, 'This slice'), h('div', { id: 'provenance' }),
    h('div', { id: 'actions' },
      h('button', { id: 'save', title: 'Save (Ctrl+S)', onclick: () => save() }, 'Save'),
      h('button', { id: 'fill', title: 'Fill between key slices (Ctrl+I)', onclick: () => fill() }, 'Fill between'),
      h('button', { id: 'accept-fill', title: 'Accept the outlined (filled or pre-labelled) slices', onclick: () => acceptFill() }, 'Accept outlined'),
      h('button', { id: 'submit', onclick: () => submit() }, 'Submit')),
    h('div', { id: 'review' }),
    h('div', { id: 'time' }),
  );
}

function fillPanel(): void {
  const { classes, annotation, task, grid } = open!;
  $('segments').replaceChildren(...classes.map((c) => {
    const value = Number(c.value);
    const [r, g, b] = labelColour(value, c.color);
    return h('li', {},
      h('input', { type: 'radio', name: 'segment', value, checked: value === Number(classes[0].value),
        onchange: () => mpr!.setActiveSegmentation(annotation.drawnId, value) }),
      h('span', { class: 'swatch', style: `background: rgb(${r},${g},${b})` }), ` ${c.name} (${value}) `,
      h('label', {}, h('input', { type: 'checkbox', checked: true,
        onchange: (e: Event) => mpr!.setSegmentVisible(annotation.drawnId, value, (e.target as HTMLInputElement).checked) }), 'show'),
      h('label', {}, h('input', { type: 'checkbox',
        onchange: (e: Event) => mpr!.setSegmentLocked(annotation.drawnId, value, (e.target as HTMLInputElement).checked) }), 'lock'));
  }));
  if (grid.timePoints > 1) {
    $('time').replaceChildren(h('label', {}, `${grid.fourthAxis}: `,
      h('input', { type: 'range', id: 'time-index', min: 0, max: grid.timePoints - 1, value: 0, onchange: (e: Event) =>
        showTime(Number((e.target as HTMLInputElement).value)) })));
  }
  if (task && task.stageKind === 'STAGE_KIND_REVIEW') {
    $('review').replaceChildren(h('h3', {}, 'Review'),
      h('textarea', { id: 'review-comment', rows: 3, placeholder: 'comment (required to reject)' }),
      h('button', { id: 'approve', onclick: () => review('REVIEW_DECISION_ACCEPT') }, 'Approve'),
      h('button', { id: 'reject', onclick: () => review('REVIEW_DECISION_REJECT') }, 'Reject'),
      h('div', { id: 'adjudication' }));
    void showDispute(task);
  }
  if (task?.comment && task.reworkOfTaskId) void showReviewDiff(task);
  showProvenance();
}

/** A rework task: what the reviewer changed since the version they reviewed, slice by slice (click to go there). */
async function showReviewDiff(task: Json): Promise<void> {
  try {
    const { task: reviewed } = await rpc('workflow', 'GetTask', { taskId: task.reworkOfTaskId });
    const from = reviewed.review?.annotationVersion ?? reviewed.annotationVersion;
    const diff = await rpc('annotation', 'GetAnnotationDiff', {
      annotationId: open!.annotation.annotationId, fromVersion: String(from ?? 0), toVersion: '0',
    });
    const labels: Json[] = diff.labels ?? [];
    $('review').replaceChildren(h('h3', {}, 'Reviewer’s comment and changes'), h('p', { id: 'review-comment-shown' }, `“${task.comment}”`),
      labels.length ? h('ul', { id: 'review-diff' }, ...labels.map((label) => h('li', {},
        `label ${label.labelValue}: +${label.voxelsAdded ?? 0} / −${label.voxelsRemoved ?? 0} voxels on slices `,
        ...(label.slicesChanged ?? []).map((k: number) => h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); state.jump(k); } }, `${k + 1} `)))))
        : h('p', {}, 'The reviewer changed no label.'));
  } catch (error) {
    say(`The review's changes could not be read: ${error instanceof Error ? error.message : error}`, 'error');
  }
}

/** An adjudication: the consensus readers' per-class agreement, each reader's labels to show and pick, or one's own edit. */
async function showDispute(task: Json): Promise<void> {
  let result: Json;
  try {
    result = (await rpc('workflow', 'GetConsensusResult', { workflowId: task.workflowId, itemId: task.itemId })).consensusResult;
  } catch {
    return; // not after a consensus stage: a plain review
  }
  if (!result) return;
  const table = h('table', { id: 'verdicts' }, h('tr', {}, ...['class', 'Dice', 'surface Dice', 'HD95 mm', 'agreed'].map((t) => h('th', {}, t))),
    ...(result.classes ?? []).map((c: Json) => h('tr', {}, h('td', {}, String(c.labelValue)), h('td', {}, (c.dice ?? 0).toFixed(3)),
      h('td', {}, (c.surfaceDice ?? 0).toFixed(3)), h('td', {}, (c.hd95Mm ?? 0).toFixed(1)),
      h('td', { title: (c.shortfalls ?? []).join('; ') }, c.agreed ? 'yes' : 'no'))));
  const readers = (result.annotationIds ?? []).map((annotationId: string, index: number) => h('li', {},
    `reader ${index + 1} `,
    h('button', { 'data-show': annotationId, onclick: () => showReader(annotationId, index + 1) }, 'Show'),
    h('button', { 'data-pick': annotationId, onclick: () => adjudicate(annotationId) }, 'Pick')));
  $('adjudication').replaceChildren(h('h3', {}, `Consensus: ${String(result.state).replace('CONSENSUS_STATE_', '').toLowerCase()}`),
    table, h('ul', {}, ...readers),
    h('button', { id: 'pick-mine', title: 'Save and submit your edit, then make it the item\'s labels', onclick: () => adjudicateMine() },
      'Use my edit'));
  state.dispute = result.state;
}

async function showReader(annotationId: string, reader: number): Promise<void> {
  if (!open || !mpr) return;
  await open.annotation.overlay(annotationId);
  mpr.labelsChanged(open.annotation.filledId);
  say(`Reader ${reader}'s labels are outlined: pick them, or accept and edit them into your own.`);
}

async function adjudicate(annotationId: string): Promise<void> {
  try {
    const { annotation } = await rpc('annotation', 'GetAnnotation', { annotationId });
    await rpc('workflow', 'SubmitReview', {
      taskId: open!.task!.taskId, decision: 'REVIEW_DECISION_ACCEPT', chosenAnnotationId: annotationId,
      annotationVersion: String(annotation.version),
    });
    state.adjudicated = annotationId;
    say('Adjudicated: the chosen labels are the item\'s.');
  } catch (error) {
    say(`Not adjudicated: ${error instanceof Error ? error.message : error}`, 'error');
  }
}

/** The adjudicator's own labels — what the views show now, outlined ones accepted — saved whole as a new annotation
 * of theirs, submitted and chosen. */
async function adjudicateMine(): Promise<void> {
  if (!open || !mpr) return;
  open.annotation.acceptFilled();
  open.annotation.startNew();
  state.submitted = false;
  await submit();
  if (state.submitted) await adjudicate(open.annotation.annotationId);
}

function showProvenance(): void {
  if (!open || !mpr) return;
  const index = mpr.axialSlice(open.imageId);
  const labels = open.annotation.origins.get(index);
  state.axialSlice = index;
  $('provenance').textContent = `axial ${index + 1}/${open.grid.dimensions[2]}: ` + (labels?.size
    ? [...labels].map(([value, o]) => `${value} ${o.provenance.replace('SLICE_PROVENANCE_', '').toLowerCase()}${o.source ? ` by ${o.source}` : ''}`).join(', ')
    : 'no label');
}

function useTool(name: string): void {
  if (open && open.every > 1 && TOOLS[name].labels) return;
  mpr?.use(name);
  document.querySelectorAll('[data-tool]').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.tool === name));
}

function recolour(): void {
  mpr?.colormap(($('colormap') as HTMLSelectElement).value, ($('invert') as HTMLInputElement).checked);
}

function undo(redo: boolean): void {
  const memo = utilities.HistoryMemo.DefaultHistoryMemo;
  if (redo) memo.redo();
  else memo.undo();
  mpr?.engine.render();
}

async function toggle3d(): Promise<void> {
  if (!open || !mpr) return;
  const shown = await mpr.toggle3d(open.imageId, open.item.modality);
  say(shown ? '3D: volume rendering of the image; press 3D again for the MPR.' : '');
}

async function showTime(time: number): Promise<void> {
  if (!open || !mpr) return;
  const { voxels } = await fetchVoxels(open.item.volumeId, open.grid, DTYPE_BYTES[open.item.volumeRef.dtype] ?? 2, time,
    (done) => say(`Loading time point ${time + 1}… ${Math.round(done * 100)} %`));
  cache.getVolume(open.imageId)!.voxelManager!.setCompleteScalarDataArray!(voxels as any);
  open.time = time;
  mpr.engine.render();
  say(`Time point ${time + 1} of ${open.grid.timePoints}.`);
}

async function save(): Promise<boolean> {
  if (!open) return false;
  const started = performance.now();
  say('Saving…');
  try {
    const { saved, version } = await open.annotation.save();
    state.timings.saveMs = performance.now() - started;
    mpr?.labelsChanged(open.annotation.filledId);
    say(saved.length ? `Saved ${saved.length} key slice(s) as version ${version}.` : 'Nothing to save.');
    showProvenance();
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      const who = await open.annotation.newerBy();
      say(`Not saved: ${who} saved this annotation meanwhile. Your edits are still here.`, 'error');
      $('messages').append(h('button', { id: 'reload', onclick: () => openItem(open!.item.itemId, open!.task?.taskId ?? null) },
        'Reload their version (drops your edits)'));
    } else say(`Not saved: ${error instanceof Error ? error.message : error}`, 'error');
    return false;
  }
}

async function fill(): Promise<void> {
  if (!open || !mpr) return;
  const before = open.annotation.version;
  if (!(await save())) return;
  if (open.annotation.version === before) {
    say('Draw key slices first: nothing changed since the last fill.', 'error');
    return;
  }
  say('Filling between the key slices…');
  const filled = await open.annotation.awaitFill(open.annotation.version);
  mpr.labelsChanged(open.annotation.drawnId);
  mpr.labelsChanged(open.annotation.filledId);
  showProvenance();
  state.filled = filled;
  say(filled ? `Filled: version ${open.annotation.version}; filled slices are outlined until you accept or edit them.`
    : 'The fill has not arrived yet; it will show when you reopen the item.', filled ? 'info' : 'error');
}

function acceptFill(): void {
  if (!open || !mpr) return;
  open.annotation.acceptFilled();
  mpr.labelsChanged(open.annotation.drawnId);
  mpr.labelsChanged(open.annotation.filledId);
  say('Filled slices accepted.');
}

async function submit(): Promise<void> {
  if (!open || !(await save())) return;
  try {
    await open.annotation.submit();
    say(`Submitted version ${open.annotation.version}.`);
    state.submitted = true;
  } catch (error) {
    say(`Not submitted: ${error instanceof Error ? error.message : error}`, 'error');
  }
}

async function review(decision: string): Promise<void> {
  if (!open?.task) return;
  const comment = ($('review-comment') as HTMLTextAreaElement).value.trim();
  if (decision === 'REVIEW_DECISION_REJECT' && !comment) {
    say('Say what to change: a rejection needs a comment.', 'error');
    return;
  }
  try {
    await rpc('workflow', 'SubmitReview', {
      taskId: open.task.taskId, decision, comment, annotationVersion: String(open.annotation.version),
    });
    state.reviewed = decision;
    say(decision === 'REVIEW_DECISION_ACCEPT' ? 'Approved.' : 'Rejected: back to the annotator with your comment.');
  } catch (error) {
    say(`Review not recorded: ${error instanceof Error ? error.message : error}`, 'error');
  }
}

function hotkey(event: KeyboardEvent): void {
  if ((event.target as HTMLElement).matches('input, textarea, select')) return;
  if (event.ctrlKey || event.metaKey) {
    const action: Record<string, () => void> = { z: () => undo(false), y: () => undo(true), s: () => void save(), i: () => void fill() };
    if (action[event.key]) {
      event.preventDefault();
      action[event.key]();
    }
    return;
  }
  const chosenPreset = CT_PRESETS.find((p) => p.hotkey === event.key);
  if (chosenPreset) return preset(chosenPreset.key);
  const tool = Object.entries(TOOLS).find(([, t]) => t.hotkey === event.key);
  if (tool) return useTool(tool[0]);
  if (event.key === 'i') {
    const invert = $('invert') as HTMLInputElement;
    invert.checked = !invert.checked;
    recolour();
  }
}

/** For tests: the page coordinates of voxel (i, j, k) in a view (axial, sagittal, coronal). */
state.pagePoint = (view: string, i: number, j: number, k: number): [number, number] => {
  const viewport = mpr!.viewport(view);
  const volume = cache.getVolume(open!.imageId)!;
  const world = utilities.transformIndexToWorld(volume.imageData as any, [i, j, k] as Types.Point3);
  const [x, y] = viewport.worldToCanvas(world);
  const box = viewport.element.getBoundingClientRect();
  return [box.left + x, box.top + y];
};
/** For tests: the voxel (i, j, k) at a view's centre of rotation (the slice it shows). */
state.voxelOf = (view: string): number[] => {
  const volume = cache.getVolume(open!.imageId)!;
  const focal = mpr!.viewport(view).getCamera().focalPoint!;
  return utilities.transformWorldToIndex(volume.imageData as any, focal as Types.Point3);
};
/** For tests: label voxels per axial slice of what is shown (drawn and filled), and a checksum of the values. */
state.labelSummary = (): { perSlice: number[]; checksum: number } => {
  const drawn = cache.getVolume(open!.annotation.drawnId)!.voxelManager!.getCompleteScalarDataArray!() as Uint8Array;
  const filled = cache.getVolume(open!.annotation.filledId)!.voxelManager!.getCompleteScalarDataArray!() as Uint8Array;
  const size = open!.annotation.sliceSize;
  const perSlice = new Array(open!.annotation.slices).fill(0);
  let checksum = 0;
  for (let at = 0; at < drawn.length; at++) {
    const value = drawn[at] || filled[at];
    if (value) {
      perSlice[Math.floor(at / size)]++;
      checksum = (checksum + value * (at % 65521 + 1)) % 2147483647;
    }
  }
  return { perSlice, checksum };
};
state.jump = (k: number) => { mpr!.jumpToSlice(open!.imageId, k); showProvenance(); };

/** For tests: a view's display properties (window as voiRange, colour map, invert). */
state.properties = (view: string) => mpr!.viewport(view).getProperties();

main().catch((error) => banner(`The viewer could not start: ${error instanceof Error ? error.message : error}`));
