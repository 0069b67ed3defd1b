/**
 * When a recurring maintenance window is open. Pure arithmetic over the IANA time-zone data
 * that Node's Intl carries; no clock of its own (the caller passes the instant).
 *
 * The rules, where calendars are ambiguous:
 * - a window starts on each listed day at `startTime` wall-clock time in its time zone and
 *   lasts `durationMinutes` of elapsed time, so one that starts late in the evening crosses
 *   midnight and is still open on the next (perhaps unlisted) day;
 * - a start time that does not exist that day (the hour skipped when clocks spring forward)
 *   starts the window that much later (02:30 → 03:30), and one that occurs twice (clocks fall
 *   back) starts at its first occurrence: Temporal's "compatible" disambiguation;
 * - windows of one device that overlap are one longer window.
 */

export const daysOfWeek = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export type DayOfWeek = (typeof daysOfWeek)[number];

export interface WindowSchedule {
  /** Graph's dayOfWeek spelling */
  daysOfWeek: DayOfWeek[];
  /** HH:MM or HH:MM:SS, wall-clock time in the time zone */
  startTime: string;
  /** 30 to 1440 */
  durationMinutes: number;
  /** IANA name: the window's; a device's own time zone replaces it for that device */
  timeZone: string;
}

/** Open until `closes`, or closed until `opens` (epoch milliseconds). */
export type WindowState = { open: true; closes: number } | { open: false; opens: number };

const dayMs = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether Intl knows this IANA time zone name. */
/** A wall-clock time of day, HH:MM or HH:MM:SS. */
export const startTimePattern = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

export function isTimeZone(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  try {
    formatterOf(name);
    return true;
  } catch {
    return false;
  }
}

/** HH:MM[:SS] as seconds after midnight, or null when malformed. */
export function startSeconds(startTime: string): number | null {
  const match = startTimePattern.exec(startTime);
  if (!match) return null;
  return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3] ?? 0);
}

/**
 * Whether the window is open at `at` (and until when), else when it next opens. The window
 * is read in `timeZone` (the device's, or the window's own). `extend`: whether a window that
 * starts as the open one ends counts as the same opening.
 */
export function windowState(schedule: WindowSchedule, at: number, timeZone = schedule.timeZone, extend = true): WindowState {
  const seconds = startSeconds(schedule.startTime);
  if (seconds === null) throw new Error(`malformed startTime ${schedule.startTime}`);
  const days = new Set(schedule.daysOfWeek.map((day) => daysOfWeek.indexOf(day)));
  const durationMs = schedule.durationMinutes * 60_000;
  const local = localMs(at, timeZone);
  const today = Math.floor(local / dayMs) * dayMs;
  let closes: number | null = null;
  let opens: number | null = null;
  // Yesterday's window may still be open (it crossed midnight); a week and a day ahead holds
  // every listed day's next start.
  for (let day = -1; day <= 8; day++) {
    const date = today + day * dayMs;
    if (!days.has(new Date(date).getUTCDay())) continue;
    const start = instantOf(date + seconds * 1000, timeZone);
    const end = start + durationMs;
    if (start <= at && at < end) closes = Math.max(closes ?? end, end);
    else if (start > at && opens === null) opens = start;
  }
  if (closes !== null) {
    if (!extend) return { open: true, closes };
    // A window that begins as (or before) this one ends extends it; a schedule open all week
    // long says so for a week at a time.
    for (let step = 0; step < 8; step++) {
      const next = windowState(schedule, closes, timeZone, false);
      if (!next.open || next.closes <= closes) break;
      closes = next.closes;
    }
    return { open: true, closes };
  }
  if (opens === null) throw new Error('a schedule with no days never opens');
  return { open: false, opens };
}

/**
 * The state of several windows together: open while any is, until the last of the open ones
 * closes (another window opening just then is found at the next decision), else closed until
 * the first of them opens. Null for no windows.
 */
export function combinedState(states: WindowState[]): WindowState | null {
  if (states.length === 0) return null;
  const open = states.filter((s): s is { open: true; closes: number } => s.open);
  if (open.length > 0) return { open: true, closes: Math.max(...open.map((s) => s.closes)) };
  return { open: false, opens: Math.min(...states.map((s) => (s as { opens: number }).opens)) };
}

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock time at `at` in the zone, as milliseconds of a UTC calendar (seconds precision). */
function localMs(at: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(timeZone).formatToParts(new Date(at))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
}

function offsetAt(at: number, timeZone: string): number {
  return localMs(at, timeZone) - Math.floor(at / 1000) * 1000;
}

/**
 * The instant a wall-clock time (as UTC-calendar milliseconds) names in the zone. Offsets a
 * day either side are the candidates (no zone changes its offset twice in two days): a time
 * both read back to is ambiguous (the first wins), one neither does falls in a gap (moved
 * later by the gap, with the offset from before it).
 */
function instantOf(wall: number, timeZone: string): number {
  const before = offsetAt(wall - dayMs, timeZone);
  const after = offsetAt(wall + dayMs, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => localMs(t, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}
