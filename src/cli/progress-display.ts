/** How progress is shown: lines redrawn in place, plain lines when something changed, or nothing (--json). */
export type ProgressDisplay = 'terminal' | 'lines' | 'none';

/** Picks the display for a stream: redrawing only on a terminal that can move its cursor. */
export function displayFor(stream: NodeJS.WriteStream, quiet: boolean): ProgressDisplay {
  if (quiet) return 'none';
  return stream.isTTY && process.env.TERM !== 'dumb' ? 'terminal' : 'lines';
}

const barWidth = 20;

/** A bar of `done` out of `total`, e.g. `████████░░░░░░░░░░░░`. */
export function bar(done: number, total: number): string {
  const filled = total === 0 ? 0 : Math.min(barWidth, Math.round((barWidth * done) / total));
  return '█'.repeat(filled) + '░'.repeat(barWidth - filled);
}

/**
 * A writer of a block of status lines (`rollouts get --wait`, the bulk actions of `devices`):
 * on a terminal the block is redrawn in place; as plain lines each line is written, with a
 * timestamp, only when it differs from the last time it was written; with 'none', nothing.
 */
export function progressWriter(display: ProgressDisplay, out: NodeJS.WriteStream): (lines: string[]) => void {
  if (display === 'terminal') return terminalWriter(out);
  if (display === 'lines') return lineWriter(out);
  return () => {};
}

/** Redraws the block in place: cursor up over the last frame, each line cleared. */
function terminalWriter(out: NodeJS.WriteStream): (lines: string[]) => void {
  let drawn = 0;
  let last = '';
  return (block) => {
    // A line wider than the terminal wraps, and cursor-up would then miss the block's top.
    const fit = (line: string) => (out.columns ? [...line].slice(0, out.columns - 1).join('') : line);
    const lines = block.map(fit);
    const frame = lines.join('\n');
    if (frame === last) return;
    last = frame;
    out.write(`${drawn > 0 ? `\x1b[${drawn}A` : ''}${lines.map((line) => `\r\x1b[2K${line}\n`).join('')}`);
    drawn = lines.length;
  };
}

/** Writes, with a timestamp, each line of the block that differs from the last one written at its place. */
function lineWriter(out: NodeJS.WriteStream): (lines: string[]) => void {
  const last = new Map<number, string>();
  return (lines) => {
    const at = new Date().toISOString();
    lines.forEach((line, i) => {
      if (last.get(i) === line) return;
      last.set(i, line);
      out.write(`${at}  ${line}\n`);
    });
  };
}
