// The results funnel as an SVG drawn by recharts, rendered on the server to a string. Server-side only: recharts and
// react-dom/server stay out of the browser bundle, and the enforced CSP (CX2) allows no style attributes, so the two
// that recharts writes (its wrapper div and the svg's 100% size) are left out and the page's stylesheet sizes the svg.
import { renderToStaticMarkup } from 'react-dom/server';
import { Bar, BarChart, CartesianGrid, LabelList, XAxis, YAxis } from 'recharts';

export type FunnelStage = { label: string; count: number };

export function renderFunnelChart(stages: FunnelStage[], options: { title: string; color: string }): string {
  const markup = renderToStaticMarkup(
    <BarChart width={640} height={40 + stages.length * 44} data={stages} layout="vertical" margin={{ top: 8, right: 64, bottom: 8, left: 8 }} title={options.title}>
      <CartesianGrid horizontal={false} stroke="#d9dce1" />
      <XAxis type="number" allowDecimals={false} stroke="#5f6368" tick={{ fill: '#3c4043' }} />
      <YAxis type="category" dataKey="label" width={180} stroke="#5f6368" tick={{ fill: '#1f2328' }} />
      <Bar dataKey="count" fill={options.color} isAnimationActive={false}>
        <LabelList dataKey="count" position="right" fill="#1f2328" />
      </Bar>
    </BarChart>,
  );
  const svg = /<svg[\s\S]*<\/svg>/.exec(markup)?.[0] ?? '';
  // The figures are in the table next to the chart; the svg is one image with a name, not a tree of unnamed text.
  return svg
    .replace(/\sstyle="[^"]*"/g, '')
    .replace('<svg ', `<svg role="img" aria-label="${escapeAttribute(options.title)}" focusable="false" `)
    .replace(/<desc><\/desc>/, '');
}

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
