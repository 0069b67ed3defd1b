import { softwareFreshnesses, type SoftwareFreshness, type SoftwareType } from '../../domain/enums';
import { labelOf } from '../labels';
import { href } from '../router';

/** One software type's devices by freshness (null: not counted). */
export interface FreshnessRow {
  softwareType: SoftwareType;
  counts: Record<SoftwareFreshness, number | null>;
}

/**
 * Software freshness per software type: a stacked bar a row (latest, update available,
 * unknown), each count a link to those devices. The bars are for the eye; a screen reader
 * reads "Teams client: Latest 12, Update available 3, Unknown 1".
 */
export function FreshnessChart({ rows }: { rows: FreshnessRow[] }) {
  return (
    <figure class="chart freshness" aria-labelledby="chart-software-freshness">
      <figcaption id="chart-software-freshness">Software freshness per software type</figcaption>
      {rows.length === 0 ? <p class="note">No device reports software the catalog knows.</p> : (
        <ul class="bars">
          {rows.map(({ softwareType, counts }) => {
            const total = Math.max(1, softwareFreshnesses.reduce((sum, value) => sum + (counts[value] ?? 0), 0));
            let start = 0;
            return (
              <li key={softwareType}>
                <span class="bar-label">{labelOf(softwareType)}</span>
                <span class="visually-hidden">: </span>
                <svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">
                  {softwareFreshnesses.map((value) => {
                    const width = ((counts[value] ?? 0) / total) * 100;
                    const x = start;
                    start += width;
                    return <rect key={value} x={x} width={width} height="10" class={`segment ${value}`} />;
                  })}
                </svg>
                <span class="segment-values">
                  {softwareFreshnesses.map((value, i) => (
                    <span key={value}>
                      {i > 0 ? ', ' : ''}
                      <a href={href('/devices', { software: softwareType, freshness: value })}>
                        <span class={`swatch ${value}`} aria-hidden="true" />{labelOf(value)}
                      </a>{' '}
                      <span data-testid={`freshness-${softwareType}-${value}`}>{counts[value] ?? '–'}</span>
                    </span>
                  ))}
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </figure>
  );
}
