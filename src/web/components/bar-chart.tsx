/** One bar: its label, its value (null: unknown) and, when given, where its label leads. */
export interface Bar {
  label: string;
  value: number | null;
  href?: string;
}

/**
 * Horizontal bars, each a row of its label (a link to what it counts), the bar and its value.
 * The bars are drawn for the eye only; a screen reader reads "Healthy: 215 devices".
 */
export function BarChart({ title, bars, unit = 'devices' }: { title: string; bars: Bar[]; unit?: string }) {
  const max = Math.max(1, ...bars.map((bar) => bar.value ?? 0));
  const id = `chart-${title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <figure class="chart" aria-labelledby={id}>
      <figcaption id={id}>{title}</figcaption>
      <ul class="bars">
        {bars.map((bar) => (
          <li key={bar.label}>
            {bar.href && bar.value ? <a class="bar-label" href={bar.href}>{bar.label}</a> : <span class="bar-label">{bar.label}</span>}
            <span class="visually-hidden">: </span>
            <svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
              <rect width={((bar.value ?? 0) / max) * 100} height="10" rx="1" class="bar" />
            </svg>
            <span class="bar-value">{bar.value ?? '–'}</span>
            <span class="visually-hidden"> {unit}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}
