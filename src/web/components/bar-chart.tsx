/** One bar: its label, its value (null: unknown) and, when given, where clicking it leads. */
export interface Bar {
  label: string;
  value: number | null;
  href?: string;
}

/**
 * Horizontal bars drawn in SVG, each labelled with its value; the same figures as a list for
 * screen readers (the drawing itself is hidden from them).
 */
export function BarChart({ title, bars, unit = 'devices' }: { title: string; bars: Bar[]; unit?: string }) {
  const max = Math.max(1, ...bars.map((bar) => bar.value ?? 0));
  const rowHeight = 28;
  const id = `chart-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <figure class="chart" aria-labelledby={id}>
      <figcaption id={id}>{title}</figcaption>
      <svg viewBox={`0 0 400 ${bars.length * rowHeight}`} width="100%" role="presentation" aria-hidden="true" preserveAspectRatio="xMinYMin meet">
        {bars.map((bar, i) => {
          const width = ((bar.value ?? 0) / max) * 220;
          const y = i * rowHeight;
          return (
            <g key={bar.label}>
              <text x="130" y={y + 18} text-anchor="end" class="chart-label">{bar.label}</text>
              <rect x="138" y={y + 5} width={Math.max(width, bar.value ? 2 : 0)} height="18" rx="2" class="chart-bar" />
              <text x={142 + width} y={y + 18} class="chart-value">{bar.value ?? '–'}</text>
            </g>
          );
        })}
      </svg>
      <ul class="visually-hidden">
        {bars.map((bar) => <li key={bar.label}>{bar.label}: {bar.value ?? 'unknown'} {unit}</li>)}
      </ul>
      <ul class="chart-links">
        {bars.filter((bar) => bar.href && bar.value).map((bar) => <li key={bar.label}><a href={bar.href}>{bar.label} ({bar.value})</a></li>)}
      </ul>
    </figure>
  );
}
