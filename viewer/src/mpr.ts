// The MPR hanging protocol: axial, sagittal and coronal views of one volume (plus an optional 3D view), linked by
// crosshairs, with OHIF's mouse bindings (left: the active tool, middle: pan, right: zoom, wheel: scroll).

import {
  Enums, RenderingEngine, cache, setVolumesForViewports, utilities, type Types,
} from '@cornerstonejs/core';
import {
  AngleTool, BrushTool, CrosshairsTool, EllipticalROITool, Enums as ToolEnums, LengthTool, PanTool,
  PlanarFreehandROITool, ProbeTool, RectangleROITool, StackScrollTool, ToolGroupManager, WindowLevelTool, ZoomTool,
  addTool, segmentation, utilities as toolUtilities,
} from '@cornerstonejs/tools';
import { COLORMAPS, rgbPoints } from './display';

export const ENGINE_ID = 'radlab';
const GROUP_ID = 'radlab-mpr';
export const VIEWS = [
  { id: 'axial', element: 'view-axial', orientation: Enums.OrientationAxis.AXIAL },
  { id: 'sagittal', element: 'view-sagittal', orientation: Enums.OrientationAxis.SAGITTAL },
  { id: 'coronal', element: 'view-coronal', orientation: Enums.OrientationAxis.CORONAL },
] as const;

/** Tools a user picks for the left button; `brush`-like ones draw only in the axial view (key slices are axial). */
export const TOOLS: Record<string, { tool: string; label: string; hotkey: string; labels?: boolean }> = {
  windowLevel: { tool: WindowLevelTool.toolName, label: 'W/L', hotkey: 'v' },
  crosshairs: { tool: CrosshairsTool.toolName, label: 'Crosshairs', hotkey: 'c' },
  brush: { tool: 'Brush', label: 'Brush', hotkey: 'b', labels: true },
  sphere: { tool: 'SphereBrush', label: '3D brush', hotkey: 's', labels: true },
  threshold: { tool: 'ThresholdBrush', label: 'Threshold brush', hotkey: 't', labels: true },
  eraser: { tool: 'Eraser', label: 'Eraser', hotkey: 'e', labels: true },
  freehand: { tool: PlanarFreehandROITool.toolName, label: 'Contour', hotkey: 'f' },
  box: { tool: RectangleROITool.toolName, label: 'Box', hotkey: 'r' },
  ellipse: { tool: EllipticalROITool.toolName, label: 'Ellipse', hotkey: 'o' },
  keypoint: { tool: ProbeTool.toolName, label: 'Point', hotkey: 'p' },
  length: { tool: LengthTool.toolName, label: 'Length', hotkey: 'l' },
  angle: { tool: AngleTool.toolName, label: 'Angle', hotkey: 'a' },
};

let registered = false;

function registerTools(): void {
  if (registered) return;
  registered = true;
  for (const Tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, CrosshairsTool, BrushTool, LengthTool,
    AngleTool, ProbeTool, RectangleROITool, EllipticalROITool, PlanarFreehandROITool]) {
    addTool(Tool);
  }
  for (const name of Object.keys(COLORMAPS)) {
    utilities.colormap.registerColormap({ Name: `radlab-${name}`, RGBPoints: rgbPoints(name), ColorSpace: 'RGB' } as any);
  }
}

type View = (typeof VIEWS)[number];

export class Mpr {
  readonly engine: RenderingEngine;
  private active = 'windowLevel';

  /** The views shown: all three, or one alone, in the plane it was acquired in, for a single-slice image (a radiograph). */
  constructor(readonly views: readonly View[] = VIEWS) {
    registerTools();
    this.engine = new RenderingEngine(ENGINE_ID);
    this.engine.setViewports(views.map((view) => ({
      viewportId: view.id,
      type: Enums.ViewportType.ORTHOGRAPHIC,
      element: document.getElementById(view.element) as HTMLDivElement,
      defaultOptions: {
        orientation: views.length === 1 ? Enums.OrientationAxis.ACQUISITION : view.orientation,
        background: [0, 0, 0] as Types.Point3,
      },
    })));
    ToolGroupManager.destroyToolGroup(GROUP_ID);
    const group = ToolGroupManager.createToolGroup(GROUP_ID)!;
    for (const view of this.views) group.addViewport(view.id, ENGINE_ID);
    group.addTool(WindowLevelTool.toolName);
    group.addTool(PanTool.toolName);
    group.addTool(ZoomTool.toolName);
    group.addTool(StackScrollTool.toolName);
    group.addTool(CrosshairsTool.toolName, {
      getReferenceLineColor: (viewportId: string) => ({ axial: '#ff4d4d', sagittal: '#ffd24d', coronal: '#4dff88' } as any)[viewportId],
    });
    group.addToolInstance('Brush', BrushTool.toolName, { activeStrategy: 'FILL_INSIDE_CIRCLE' });
    group.addToolInstance('SphereBrush', BrushTool.toolName, { activeStrategy: 'FILL_INSIDE_SPHERE' });
    group.addToolInstance('ThresholdBrush', BrushTool.toolName, {
      activeStrategy: 'THRESHOLD_INSIDE_CIRCLE', threshold: { range: [-150, 250], isDynamic: false },
    });
    group.addToolInstance('Eraser', BrushTool.toolName, { activeStrategy: 'ERASE_INSIDE_CIRCLE' });
    for (const tool of [LengthTool, AngleTool, ProbeTool, RectangleROITool, EllipticalROITool, PlanarFreehandROITool]) {
      group.addTool(tool.toolName);
    }
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }] });
    group.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Wheel }] });
    this.use('windowLevel');
    for (const view of this.views) {
      const element = document.getElementById(view.element)!;
      element.oncontextmenu = (event) => event.preventDefault();
    }
  }

  private get group() {
    return ToolGroupManager.getToolGroup(GROUP_ID)!;
  }

  /** The left button's tool (a TOOLS key). */
  use(name: string): void {
    const group = this.group;
    group.setToolPassive(TOOLS[this.active].tool);
    if (TOOLS[this.active].tool === CrosshairsTool.toolName) group.setToolDisabled(CrosshairsTool.toolName);
    this.active = name;
    group.setToolActive(TOOLS[name].tool, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
  }

  get activeTool(): string {
    return this.active;
  }

  brushSize(mm: number): void {
    toolUtilities.segmentation.setBrushSizeForToolGroup(GROUP_ID, mm);
  }

  async show(volumeId: string): Promise<void> {
    await setVolumesForViewports(this.engine, [{ volumeId }], this.views.map((view) => view.id));
    this.engine.render();
  }

  /** Shows or hides a 3D volume rendering (the CT bone preset for CT, MR's default otherwise) in its own view. */
  async toggle3d(volumeId: string, modality: string): Promise<boolean> {
    const element = document.getElementById('view-3d') as HTMLDivElement;
    if (!element.hidden) {
      this.engine.disableElement('3d');
      element.hidden = true;
      return false;
    }
    element.hidden = false;
    this.engine.enableElement({
      viewportId: '3d', type: Enums.ViewportType.VOLUME_3D, element,
      defaultOptions: { orientation: Enums.OrientationAxis.CORONAL, background: [0, 0, 0] as Types.Point3 },
    });
    await setVolumesForViewports(this.engine, [{ volumeId }], ['3d']);
    const viewport = this.engine.getViewport('3d') as Types.IVolumeViewport;
    viewport.setProperties({ preset: modality === 'CT' ? 'CT-Bone' : 'MR-Default' } as any);
    viewport.render();
    return true;
  }

  viewport(id: string): Types.IVolumeViewport {
    return this.engine.getViewport(id) as Types.IVolumeViewport;
  }

  window(center: number, width: number): void {
    for (const view of this.views) {
      this.viewport(view.id).setProperties({ voiRange: { lower: center - width / 2, upper: center + width / 2 } });
    }
    this.engine.render();
  }

  colormap(name: string, invert: boolean): void {
    for (const view of this.views) this.viewport(view.id).setProperties({ colormap: { name: `radlab-${name}` }, invert });
    this.engine.render();
  }

  /** The array slice k (of the image `volumeId`) the axial view shows. */
  axialSlice(volumeId: string): number {
    const volume = cache.getVolume(volumeId)!;
    const focal = this.viewport('axial').getCamera().focalPoint as Types.Point3;
    return Math.round(utilities.transformWorldToIndex(volume.imageData as any, focal)[2]);
  }

  /** Shows array slice k (of the image `volumeId`) in the axial view, keeping the other views where they are. */
  jumpToSlice(volumeId: string, k: number): void {
    const volume = cache.getVolume(volumeId)!;
    const viewport = this.viewport('axial') as Types.IVolumeViewport & { jumpToWorld(point: Types.Point3): boolean };
    const here = utilities.transformWorldToIndex(volume.imageData as any, viewport.getCamera().focalPoint as Types.Point3);
    viewport.jumpToWorld(utilities.transformIndexToWorld(volume.imageData as any, [here[0], here[1], k] as Types.Point3));
    this.engine.render();
  }

  /** Shows a label volume on every view: drawn labels filled, model or interpolated ones outlined. */
  addLabels(segmentationId: string, volumeId: string, values: number[], colours: Map<number, number[]>, outlined: boolean): void {
    segmentation.addSegmentations([{
      segmentationId,
      representation: { type: ToolEnums.SegmentationRepresentations.Labelmap, data: { volumeId } as any },
      config: { segments: Object.fromEntries(values.map((value) => [value, { segmentIndex: value, label: String(value) }])) as any },
    }]);
    for (const view of this.views) {
      segmentation.addLabelmapRepresentationToViewport(view.id, [{ segmentationId }]);
      for (const [value, colour] of colours) {
        segmentation.config.color.setSegmentIndexColor(view.id, segmentationId, value, [...colour, 255] as any);
      }
      if (outlined) {
        segmentation.config.style.setStyle(
          { viewportId: view.id, segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
          { renderFill: true, fillAlpha: 0.15, renderOutline: true, outlineWidth: 2, outlineDashActive: '4,4' } as any,
        );
      }
    }
  }

  setActiveSegmentation(segmentationId: string, value: number): void {
    for (const view of this.views) segmentation.activeSegmentation.setActiveSegmentation(view.id, segmentationId);
    segmentation.segmentIndex.setActiveSegmentIndex(segmentationId, value);
  }

  setSegmentVisible(segmentationId: string, value: number, visible: boolean): void {
    for (const view of this.views) {
      segmentation.config.visibility.setSegmentIndexVisibility(view.id,
        { segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap }, value, visible);
    }
  }

  setSegmentLocked(segmentationId: string, value: number, locked: boolean): void {
    segmentation.segmentLocking.setSegmentIndexLocked(segmentationId, value, locked);
  }

  setOpacity(segmentationId: string, alpha: number): void {
    for (const view of this.views) {
      segmentation.config.style.setStyle(
        { viewportId: view.id, segmentationId, type: ToolEnums.SegmentationRepresentations.Labelmap },
        { fillAlpha: alpha } as any,
      );
    }
  }

  labelsChanged(segmentationId: string): void {
    segmentation.triggerSegmentationEvents.triggerSegmentationDataModified(segmentationId);
    this.engine.render();
  }

  destroy(): void {
    ToolGroupManager.destroyToolGroup(GROUP_ID);
    segmentation.removeAllSegmentations();
    this.engine.destroy();
  }
}
