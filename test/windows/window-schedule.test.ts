import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServiceError } from '../../src/domain/errors.js';
import { deviceTimeZone, windowChangesOf, type WindowChanges } from '../../src/domain/maintenance-window.js';
import { combinedState, daysOfWeek, windowState, type WindowSchedule } from '../../src/domain/window-schedule.js';

/** The schedule arithmetic of maintenance windows (pure: no server, no clock). */

const at = (iso: string) => Date.parse(iso);
const schedule = (overrides: Partial<WindowSchedule>): WindowSchedule => ({
  daysOfWeek: ['monday'], startTime: '22:00', durationMinutes: 60, timeZone: 'Etc/UTC', ...overrides,
});
const closedUntil = (state: ReturnType<typeof windowState>) => {
  assert.equal(state.open, false, `expected closed, got ${JSON.stringify(state)}`);
  return new Date((state as { opens: number }).opens).toISOString();
};
const openUntil = (state: ReturnType<typeof windowState>) => {
  assert.equal(state.open, true, `expected open, got ${JSON.stringify(state)}`);
  return new Date((state as { closes: number }).closes).toISOString();
};

describe('window state', () => {
  test('a window that crosses midnight is open on the next day until it ends, closed after', () => {
    // Monday 22:00 Berlin for 4 h, in summer (UTC+2): 20:00Z Monday to 00:00Z Tuesday.
    const s = schedule({ startTime: '22:00', durationMinutes: 240, timeZone: 'Europe/Berlin' });
    assert.equal(closedUntil(windowState(s, at('2026-06-01T18:59:59Z'))), '2026-06-01T20:00:00.000Z');
    assert.equal(openUntil(windowState(s, at('2026-06-01T20:00:00Z'))), '2026-06-02T00:00:00.000Z');
    // Tuesday 01:30 local (Tuesday is not a listed day): still Monday's window.
    assert.equal(openUntil(windowState(s, at('2026-06-01T23:30:00Z'))), '2026-06-02T00:00:00.000Z');
    // Its end is not part of it; the next is a week later.
    assert.equal(closedUntil(windowState(s, at('2026-06-02T00:00:00Z'))), '2026-06-08T20:00:00.000Z');
  });

  test('every weekday opens on its own day, with seconds in the start time', () => {
    // From Sunday 2026-05-31 00:00Z, each day's 10:00:30 UTC start.
    for (const [i, day] of daysOfWeek.entries()) {
      const s = schedule({ daysOfWeek: [day], startTime: '10:00:30', durationMinutes: 30 });
      const expected = new Date(Date.UTC(2026, 4, 31 + i, 10, 0, 30)).toISOString();
      assert.equal(closedUntil(windowState(s, at('2026-05-31T00:00:00Z'))), expected, day);
      assert.equal(new Date(expected).getUTCDay(), i, day);
    }
  });

  test('all listed days: the nearest one, in the window time zone (winter, UTC+1)', () => {
    const s = schedule({ daysOfWeek: ['tuesday', 'thursday'], startTime: '09:00', durationMinutes: 90, timeZone: 'Europe/Berlin' });
    // Thursday 2026-01-15 07:00Z = 08:00 local: opens at 09:00 local = 08:00Z.
    assert.equal(closedUntil(windowState(s, at('2026-01-15T07:00:00Z'))), '2026-01-15T08:00:00.000Z');
    assert.equal(openUntil(windowState(s, at('2026-01-15T09:00:00Z'))), '2026-01-15T09:30:00.000Z');
    // After it: next Tuesday.
    assert.equal(closedUntil(windowState(s, at('2026-01-15T09:30:00Z'))), '2026-01-20T08:00:00.000Z');
  });

  test('America/New_York spring forward: a start in the skipped hour starts that much later; duration is elapsed time', () => {
    // 2026-03-08 02:00 EST → 03:00 EDT. 02:30 does not exist: the window starts 03:30 EDT = 07:30Z.
    const skipped = schedule({ daysOfWeek: ['sunday'], startTime: '02:30', durationMinutes: 60, timeZone: 'America/New_York' });
    assert.equal(closedUntil(windowState(skipped, at('2026-03-08T06:00:00Z'))), '2026-03-08T07:30:00.000Z');
    assert.equal(openUntil(windowState(skipped, at('2026-03-08T07:30:00Z'))), '2026-03-08T08:30:00.000Z');
    // 01:00 EST (06:00Z) for two hours ends at 08:00Z, which is 04:00 EDT on the wall.
    const across = schedule({ daysOfWeek: ['sunday'], startTime: '01:00', durationMinutes: 120, timeZone: 'America/New_York' });
    assert.equal(openUntil(windowState(across, at('2026-03-08T07:59:00Z'))), '2026-03-08T08:00:00.000Z');
    // A week later (EDT, UTC-4), 01:00 is 05:00Z.
    assert.equal(closedUntil(windowState(across, at('2026-03-08T08:00:00Z'))), '2026-03-15T05:00:00.000Z');
  });

  test('America/New_York fall back: a start that occurs twice is the first occurrence', () => {
    // 2026-11-01 02:00 EDT → 01:00 EST: 01:30 is 05:30Z (EDT) and again 06:30Z (EST).
    const s = schedule({ daysOfWeek: ['sunday'], startTime: '01:30', durationMinutes: 60, timeZone: 'America/New_York' });
    assert.equal(closedUntil(windowState(s, at('2026-11-01T05:00:00Z'))), '2026-11-01T05:30:00.000Z');
    assert.equal(openUntil(windowState(s, at('2026-11-01T06:00:00Z'))), '2026-11-01T06:30:00.000Z');
    // Not opened again at the second 01:30; next Sunday's (EST) is 06:30Z.
    assert.equal(closedUntil(windowState(s, at('2026-11-01T06:30:00Z'))), '2026-11-08T06:30:00.000Z');
  });

  test('Europe/Berlin spring forward and fall back', () => {
    // 2026-03-29 02:00 CET → 03:00 CEST: 02:15 starts at 03:15 CEST = 01:15Z.
    const spring = schedule({ daysOfWeek: ['sunday'], startTime: '02:15', durationMinutes: 30, timeZone: 'Europe/Berlin' });
    assert.equal(closedUntil(windowState(spring, at('2026-03-29T00:00:00Z'))), '2026-03-29T01:15:00.000Z');
    // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 is 00:30Z first, 01:30Z again.
    const fall = schedule({ daysOfWeek: ['sunday'], startTime: '02:30', durationMinutes: 30, timeZone: 'Europe/Berlin' });
    assert.equal(closedUntil(windowState(fall, at('2026-10-25T00:00:00Z'))), '2026-10-25T00:30:00.000Z');
    assert.equal(closedUntil(windowState(fall, at('2026-10-25T01:00:00Z'))), '2026-11-01T01:30:00.000Z');
    // A window crossing the fall-back night: Saturday 23:00 CEST for 4 h ends 02:00 CET (01:00Z).
    const night = schedule({ daysOfWeek: ['saturday'], startTime: '23:00', durationMinutes: 240, timeZone: 'Europe/Berlin' });
    assert.equal(openUntil(windowState(night, at('2026-10-24T22:00:00Z'))), '2026-10-25T01:00:00.000Z');
  });

  test("the device's time zone replaces the window's", () => {
    const s = schedule({ daysOfWeek: ['monday'], startTime: '09:00', durationMinutes: 60, timeZone: 'Europe/Berlin' });
    // Monday 2026-06-01 09:00 in Tokyo (UTC+9) is 00:00Z.
    assert.equal(openUntil(windowState(s, at('2026-06-01T00:30:00Z'), 'Asia/Tokyo')), '2026-06-01T01:00:00.000Z');
    assert.equal(closedUntil(windowState(s, at('2026-06-01T00:30:00Z'))), '2026-06-01T07:00:00.000Z');
  });

  test('a window open all week long says so for at least a week; overlapping days are one opening', () => {
    const always = schedule({ daysOfWeek: [...daysOfWeek], startTime: '00:00', durationMinutes: 1440 });
    const state = windowState(always, at('2026-06-01T12:00:00Z'));
    assert.ok(state.open && state.closes >= at('2026-06-08T12:00:00Z'), JSON.stringify(state));
    const twoDays = schedule({ daysOfWeek: ['monday', 'tuesday'], startTime: '00:00', durationMinutes: 1440 });
    assert.equal(openUntil(windowState(twoDays, at('2026-06-01T12:00:00Z'))), '2026-06-03T00:00:00.000Z');
  });

  test('several windows: open while any is, else the earliest opening', () => {
    assert.equal(combinedState([]), null);
    assert.deepEqual(combinedState([{ open: false, opens: 50 }, { open: false, opens: 20 }]), { open: false, opens: 20 });
    assert.deepEqual(combinedState([{ open: false, opens: 5 }, { open: true, closes: 30 }, { open: true, closes: 40 }]), { open: true, closes: 40 });
  });
});

describe('window bodies and device time zones', () => {
  const valid = {
    displayName: 'Nights', target: { filter: "deviceType eq 'teamsRoom'" },
    schedule: { daysOfWeek: ['friday', 'monday'], startTime: '22:00', durationMinutes: 120, timeZone: 'Europe/Berlin' },
  };
  const refused = (body: unknown, create: boolean, field: string) => {
    assert.throws(() => windowChangesOf(body as WindowChanges, create), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.status, 400);
      assert.ok(error.message.includes(field), `${error.message} names ${field}`);
      return true;
    });
  };

  test('a valid body; days come back in week order', () => {
    const parsed = windowChangesOf(valid as WindowChanges, true);
    assert.deepEqual(parsed.schedule?.daysOfWeek, ['monday', 'friday']);
    assert.deepEqual(windowChangesOf({ target: { deviceIds: ['a', 'a', 'b'] } }, false), { target: { deviceIds: ['a', 'b'] } });
  });

  // The body's shape is its JSON Schema's (maintenance-windows-api.test.ts sends those cases over HTTP); these are the rules after it.
  test('the rules no schema says are named', () => {
    refused({ ...valid, schedule: { ...valid.schedule, timeZone: 'Mars/Olympus' } }, true, 'schedule.timeZone');
    refused({}, false, 'at least one');
  });

  test("a device's time zone: its configuration's timeZone, else Graph's dateTimeConfiguration (Windows names too)", () => {
    assert.equal(deviceTimeZone({ timeZone: 'Asia/Tokyo' }), 'Asia/Tokyo');
    assert.equal(deviceTimeZone({ systemConfiguration: { dateTimeConfiguration: { timeZone: 'Pacific Standard Time' } } }), 'America/Los_Angeles');
    assert.equal(deviceTimeZone({ timeZone: 'Nowhere/Else', systemConfiguration: { dateTimeConfiguration: { timeZone: 'Europe/Paris' } } }), 'Europe/Paris');
    assert.equal(deviceTimeZone({ timeZone: 42 }), null);
    assert.equal(deviceTimeZone({}), null);
    assert.equal(deviceTimeZone(null), null);
  });
});
