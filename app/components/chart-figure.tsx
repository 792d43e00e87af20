import type { ReactNode } from 'react';

/**
 * A chart drawn on the server (charts.server.tsx) with its text alternative: the picture is one image with a short
 * name, and the figures themselves are in the table that follows it, which screen readers and keyboard users read.
 */
export function ChartFigure({ id, title, svg, summary, legend, children }: { id: string; title: string; svg: string; summary: string; legend?: string[]; children: ReactNode }) {
  return (
    <figure className="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`} className="chart__title">
        {title}
      </figcaption>
      {svg ? <div className="chart__picture" role="img" aria-label={`${summary} The figures are in the table below.`} dangerouslySetInnerHTML={{ __html: svg }} /> : null}
      {legend && legend.length > 1 ? (
        <ul className="chart-key" aria-hidden="true">
          {legend.map((label, i) => (
            <li key={label}>
              <span className={`chart-key__swatch chart-key__swatch--${i}`} />
              {label}
            </li>
          ))}
        </ul>
      ) : null}
      {children}
    </figure>
  );
}
