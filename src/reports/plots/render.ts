// Rendering of Vega-Lite specs in Node: vega-lite compiles to Vega, vega's headless View
// (renderer 'none') produces SVG, @resvg/resvg-js rasterises it to PNG. No browser, no canvas.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { VlSpec } from './specs.js';

/** Compile a Vega-Lite spec to a Vega spec; throws with the spec title on error. */
export function compileToVega(spec: VlSpec): vega.Spec {
  return compile(spec as TopLevelSpec).spec;
}

/** Render a Vega-Lite spec to an SVG string (headless, no canvas). */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const view = new vega.View(vega.parse(compileToVega(spec)), {
    renderer: 'none',
    logLevel: vega.Warn,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** output width in pixels (height follows the aspect ratio); default: 2x the SVG width */
  width?: number;
  background?: string;
}

/** Rasterise an SVG string to PNG bytes; returns the PNG with its pixel size. */
export function svgToPng(
  svg: string,
  options: PngOptions = {},
): { png: Buffer; width: number; height: number } {
  const resvg = new Resvg(svg, {
    background: options.background ?? 'white',
    fitTo: options.width ? { mode: 'width', value: options.width } : { mode: 'zoom', value: 2 },
    font: {
      loadSystemFonts: true,
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
  });
  const image = resvg.render();
  return { png: image.asPng(), width: image.width, height: image.height };
}

/** Render a Vega-Lite spec straight to PNG bytes. */
export async function renderPng(
  spec: VlSpec,
  options: PngOptions = {},
): Promise<{ png: Buffer; width: number; height: number }> {
  return svgToPng(await renderSvg(spec), options);
}
