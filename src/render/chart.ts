// Charts as SVG strings, rendered on the server with ECharts (no script in the page), and SVG to
// PNG with resvg. Shared by `analyze --plots`, `analyze --format html` and the report pages.
import { createRequire } from 'node:module';
import type * as ResvgModule from '@resvg/resvg-js';
import type * as Echarts from 'echarts';

// Loaded on the first chart, not with the module: ECharts is hundreds of files, and a command that
// imports this one without drawing (`report --format json`) would spend half its time loading them.
const require = createRequire(import.meta.url);
let echartsModule: typeof Echarts | undefined;
const echarts = () => {
  echartsModule ??= require('echarts') as typeof Echarts;
  return echartsModule;
};

/** System fonts resvg can find here; text in the SVG names them so PNGs show their labels. */
export const CHART_FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

export interface LineSeries {
  name: string;
  values: (number | null)[];
  dashed?: boolean;
}

export interface LineChartSpec {
  title: string;
  x: (string | number)[];
  xName?: string;
  yName?: string;
  series: LineSeries[];
  /** A vertical marker at one x value (e.g. the best epoch). */
  mark?: { x: string | number; label: string };
  width?: number;
  height?: number;
}

export interface BarChartSpec {
  title: string;
  categories: string[];
  values: number[];
  yName?: string;
  /** One colour per bar, or one for all. */
  colors?: string[];
  horizontal?: boolean;
  width?: number;
  height?: number;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2'];

function render(option: Echarts.EChartsOption, width: number, height: number): string {
  const chart = echarts().init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: CHART_FONT }, color: PALETTE, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/** NaN and infinities cannot be drawn: they become gaps. */
const drawable = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);

export function lineChartSvg(spec: LineChartSpec): string {
  const x = spec.x.map(String);
  return render(
    {
      title: { text: spec.title, left: 'center', textStyle: { fontSize: 14, fontFamily: CHART_FONT } },
      legend: { bottom: 4, itemGap: 28, textStyle: { fontFamily: CHART_FONT } },
      grid: { left: 60, right: 28, top: 56, bottom: 72 },
      xAxis: {
        type: 'category',
        data: x,
        name: spec.xName ?? '',
        nameLocation: 'middle',
        nameGap: 26,
        boundaryGap: false,
      },
      yAxis: { type: 'value', name: spec.yName ?? '', scale: true },
      series: spec.series.map((s, i) => ({
        name: s.name,
        type: 'line' as const,
        data: s.values.map(drawable),
        symbolSize: 6,
        lineStyle: { type: s.dashed ? ('dashed' as const) : ('solid' as const), width: 2 },
        ...(i === 0 && spec.mark
          ? {
              markLine: {
                silent: true,
                symbol: 'none',
                lineStyle: { color: '#6b7280', type: 'dotted' as const },
                label: { formatter: spec.mark.label, position: 'insideEndTop', fontFamily: CHART_FONT },
                data: [{ xAxis: String(spec.mark.x) }],
              },
            }
          : {}),
      })),
    },
    spec.width ?? 640,
    spec.height ?? 360,
  );
}

export function barChartSvg(spec: BarChartSpec): string {
  const categoryAxis = {
    type: 'category' as const,
    data: spec.categories,
    axisLabel: { fontFamily: CHART_FONT },
  };
  const valueAxis = { type: 'value' as const, name: spec.yName ?? '' };
  return render(
    {
      title: { text: spec.title, left: 'center', textStyle: { fontSize: 14, fontFamily: CHART_FONT } },
      grid: { left: spec.horizontal ? 140 : 60, right: 24, top: 44, bottom: 40 },
      xAxis: spec.horizontal ? valueAxis : categoryAxis,
      yAxis: spec.horizontal ? categoryAxis : valueAxis,
      series: [
        {
          type: 'bar',
          data: spec.values.map((value, i) => ({
            value,
            itemStyle: { color: spec.colors?.[i] ?? spec.colors?.[0] ?? PALETTE[0] },
          })),
          label: { show: true, position: spec.horizontal ? 'right' : 'top', fontFamily: CHART_FONT },
        },
      ],
    },
    spec.width ?? 640,
    spec.height ?? 320,
  );
}

/** A PNG of an SVG, text drawn with the system's fonts (DejaVu Sans where present). */
export function svgToPng(svg: string, background = '#ffffff'): Buffer {
  const { Resvg } = require('@resvg/resvg-js') as typeof ResvgModule;
  const png = new Resvg(svg, {
    background,
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  }).render();
  return png.asPng();
}
