// Charts for the admin console, drawn with recharts (ADR 011) on the server only: the loader renders each chart to a
// fixed-size SVG string and the page embeds it, so recharts never reaches a browser bundle and nothing depends on
// measuring the DOM. The enforced CSP forbids style attributes (CX2), so the few recharts writes are removed here;
// sizing comes from the SVG's width, height and viewBox, and from app.css.
import { renderToStaticMarkup } from 'react-dom/server';
import { Bar, BarChart, CartesianGrid, XAxis, YAxis } from 'recharts';

export type ChartSeries<K extends string> = { key: K; label: string };

/** Colours in series order; app.css has the same list as .chart-key__swatch--N for the legend beside each chart. */
export const SERIES_COLOURS = ['#1f5f8b', '#0b6e4f', '#b3261e', '#8a4b00'] as const;

const WIDTH = 640;

function svgOnly(markup: string): string {
  const start = markup.indexOf('<svg');
  const end = markup.lastIndexOf('</svg>');
  if (start < 0 || end < 0) return '';
  return markup
    .slice(start, end + '</svg>'.length)
    .replace(/\sstyle="[^"]*"/g, '')
    .replace('<title></title><desc></desc>', '')
    .replace('<svg ', '<svg aria-hidden="true" focusable="false" ');
}

function shortLabel(label: string, max = 26): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

/** Horizontal bars, one row per category: for counts by topic, reason, route or kind, whose names can be long. */
export function renderHorizontalBars<K extends string>(rows: ({ label: string } & Record<K, number>)[], series: ChartSeries<K>[]): string {
  const data = rows.map((r) => ({ ...r, label: shortLabel(r.label) }));
  const height = 40 + Math.max(1, data.length) * (18 + 14 * series.length);
  return svgOnly(
    renderToStaticMarkup(
      <BarChart width={WIDTH} height={height} data={data} layout="vertical" margin={{ top: 8, right: 24, bottom: 8, left: 8 }}>
        <CartesianGrid horizontal={false} stroke="#d9dce1" />
        <XAxis type="number" allowDecimals={false} stroke="#4a4a4a" tick={{ fill: '#1a1a1a', fontSize: 13 }} />
        <YAxis type="category" dataKey="label" width={200} stroke="#4a4a4a" tick={{ fill: '#1a1a1a', fontSize: 13 }} />
        {series.map((s, i) => (
          <Bar key={s.key} dataKey={s.key} name={s.label} fill={SERIES_COLOURS[i % SERIES_COLOURS.length]} isAnimationActive={false} />
        ))}
      </BarChart>,
    ),
  );
}

/** Grouped vertical bars over time: one group per week. */
export function renderColumns<K extends string>(rows: ({ label: string } & Record<K, number>)[], series: ChartSeries<K>[]): string {
  return svgOnly(
    renderToStaticMarkup(
      <BarChart width={WIDTH} height={280} data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
        <CartesianGrid vertical={false} stroke="#d9dce1" />
        <XAxis dataKey="label" stroke="#4a4a4a" tick={{ fill: '#1a1a1a', fontSize: 12 }} interval={0} />
        <YAxis allowDecimals={false} stroke="#4a4a4a" tick={{ fill: '#1a1a1a', fontSize: 13 }} />
        {series.map((s, i) => (
          <Bar key={s.key} dataKey={s.key} name={s.label} fill={SERIES_COLOURS[i % SERIES_COLOURS.length]} isAnimationActive={false} />
        ))}
      </BarChart>,
    ),
  );
}
