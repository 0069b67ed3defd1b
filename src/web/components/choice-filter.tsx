import { labelOf } from '../labels';

/** A labelled choice of one enum member, or All (null): the list pages' filters. */
export function ChoiceFilter({ label, value, values, onChange }: { label: string; value: string | null; values: readonly string[]; onChange(value: string | null): void }) {
  return (
    <label>
      {label}
      <select value={value ?? ''} onChange={(event) => onChange(event.currentTarget.value || null)}>
        <option value="">All</option>
        {values.map((member) => <option key={member} value={member}>{labelOf(member)}</option>)}
      </select>
    </label>
  );
}
