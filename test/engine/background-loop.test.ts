import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { BackgroundLoop, moreDueNow } from '../../src/engine/background-loop.js';

/**
 * The supervisor and the presence flush are BackgroundLoops that run for the life of the
 * server. Found by the end-to-end deadline tests (a MaxListenersExceededWarning after ~11
 * supervisor ticks): a loop must not leave one abort listener behind per tick.
 */
test('a background loop does not accumulate an abort listener per tick', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning);
  };
  process.on('warning', onWarning);
  let ticks = 0;
  const loop = new BackgroundLoop('test', 1, async () => {
    ticks++;
  }, pino({ level: 'silent' }));
  try {
    loop.start();
    const deadline = Date.now() + 5000;
    while (ticks < 50 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(ticks >= 50, `only ${ticks} ticks`);
  } finally {
    await loop.stop();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.map((w) => w.message), [], 'one abort listener is added per sleep and never removed');
});

test('a tick that leaves work due now is run again at once, not after the interval, and at most 50 times back to back', async () => {
  const at: number[] = [];
  const loop = new BackgroundLoop('test', 60_000, async () => {
    at.push(Date.now());
    return moreDueNow;
  }, pino({ level: 'silent' }));
  loop.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  await loop.stop();
  // The first tick and 50 back to back, then the 60 s interval.
  assert.equal(at.length, 51);
});
