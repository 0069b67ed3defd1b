/**
 * The `--stage` syntax of `rollouts create`: one stage per option, comma-separated `key=value`
 * pairs named as in the API's stage body, plus `approval` alone for `requiresApproval=true`:
 *
 *   --stage "count=2,approval"
 *   --stage "percent=10,concurrency=5,maxFailurePercent=20,soakMinutes=60"
 *
 * Only the shape is checked here (known keys, whole numbers, no key twice), so a typo stops
 * the command before anything is sent; ranges and `percent` with `count` are the server's to
 * refuse, with the same 400 a script posting the body gets.
 */

const numberKeys = ['percent', 'count', 'concurrency', 'minSuccessPercent', 'maxFailurePercent', 'soakMinutes'] as const;
const knownKeys = [...numberKeys, 'requiresApproval', 'approval'];

export type StageOption = Partial<Record<(typeof numberKeys)[number], number>> & { requiresApproval?: boolean };

/** Parses one `--stage` value into a stage of the create body; throws naming the mistake. */
export function parseStageOption(text: string): StageOption {
  const stage: StageOption = {};
  const seen = new Set<string>();
  const parts = text.split(',').map((part) => part.trim());
  if (parts.every((part) => part === '')) throw new Error(`--stage is empty; e.g. --stage "percent=10,concurrency=5" (keys: ${knownKeys.join(', ')})`);
  for (const part of parts) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    const key = equals < 0 ? part : part.slice(0, equals).trim();
    const value = equals < 0 ? null : part.slice(equals + 1).trim();
    if (!knownKeys.includes(key)) throw new Error(`--stage "${text}": unknown key '${key}' (keys: ${knownKeys.join(', ')})`);
    const field = key === 'approval' ? 'requiresApproval' : key;
    if (seen.has(field)) throw new Error(`--stage "${text}": '${key}' given twice`);
    seen.add(field);
    if (field === 'requiresApproval') {
      if (value !== null && value !== 'true' && value !== 'false') throw new Error(`--stage "${text}": '${key}' is true or false, got '${value}'`);
      stage.requiresApproval = value !== 'false';
    } else {
      if (value === null || !/^\d{1,9}$/.test(value)) throw new Error(`--stage "${text}": '${key}' needs a whole number, e.g. ${key}=10`);
      stage[field as (typeof numberKeys)[number]] = Number(value);
    }
  }
  return stage;
}

/** commander's collector for a repeatable `--stage`. */
export function collectStage(text: string, previous: StageOption[] = []): StageOption[] {
  return [...previous, parseStageOption(text)];
}
