// What every plot shares (size, fonts, the Vega-Lite schema): a module of its own, so the plot
// modules that specs.ts gathers read it without importing specs.ts back.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type VlSpec = Record<string, any>;

export const PLOT_WIDTH = 560;
export const PLOT_HEIGHT = 340;
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = 'DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif';

export const PLOT_CONFIG: VlSpec = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start', offset: 10 },
  axis: {
    labelFontSize: 12,
    titleFontSize: 13,
    titleFontWeight: 'bold',
    gridColor: '#e6e6e6',
    labelOverlap: true,
  },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 320, symbolSize: 90 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  line: { strokeWidth: 2 },
  point: { size: 70, filled: true },
  view: { stroke: '#bbb' },
};
