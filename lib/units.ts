import { invalidOption } from './errors';

const sizeUnits: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** A byte count: a non-negative integer, or a string such as '64M', '1.5G', '512k' (powers of 1024). */
export type Size = number | string;

/** Parses a Size to bytes; throws ERR_INVALID_OPTION naming `option`. */
export function parseSize(option: string, value: unknown): number {
  const expected = 'a byte count (a non-negative integer, or a string like "64M" or "1.5G")';
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw invalidOption(option, expected, value);
  }
  if (typeof value !== 'string') throw invalidOption(option, expected, value);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? sizeUnits[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalidOption(option, expected, value);
  // Whole bytes: '1.3K' is 1331 ('0.5' is 0, which a limit then refuses).
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw invalidOption(option, expected, value, 'too large');
  return bytes;
}

const timeUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** A duration: milliseconds as a number, or a string such as '2s', '500ms', '1.5m'. */
export type Duration = number | string;

/**
 * The longest delay a Node timer takes: setTimeout() runs a longer one
 * after 1 ms (with a TimeoutOverflowWarning), so a limit past it would end
 * a run, or a stop()'s grace, at once.
 */
export const TIMER_MAX_MS = 2 ** 31 - 1;
export const TIMER_MAX_TEXT = `a duration of at most ${TIMER_MAX_MS} ms (about 24.8 days: Node's timers go no further)`;

/** Parses a Duration to milliseconds (> 0 unless allowZero, at most TIMER_MAX_MS); throws ERR_INVALID_OPTION. */
export function parseDuration(option: string, value: unknown, allowZero = false): number {
  const expected = `a duration (milliseconds as a ${allowZero ? 'non-negative' : 'positive'} number, or a string like "2s" or "500ms")`;
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(value);
    if (!m) throw invalidOption(option, expected, value);
    ms = Number(m[1]) * timeUnits[m[2] ?? 'ms']!;
  } else {
    throw invalidOption(option, expected, value);
  }
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    throw invalidOption(option, expected, value);
  }
  if (ms > TIMER_MAX_MS) throw invalidOption(option, TIMER_MAX_TEXT, value);
  return ms;
}
