/** Seeded random draws for the tests that try the option checks against the kernel: a failure names its seed, and repeats from it. */

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function generator(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed and the number of cases: ISOLATE_KIT_FUZZ_SEED and ISOLATE_KIT_FUZZ_CASES, or the defaults. */
export function fuzzSettings(cases: number): { seed: number; cases: number } {
  return { seed: Number(process.env.ISOLATE_KIT_FUZZ_SEED ?? 3), cases: Number(process.env.ISOLATE_KIT_FUZZ_CASES ?? cases) };
}

/** JSON for a failure message: Infinity and NaN by name, long strings cut. */
export function show(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x === Infinity ? 'Infinity' : typeof x === 'number' && Number.isNaN(x) ? 'NaN' : typeof x === 'string' && x.length > 40 ? `${x.slice(0, 12)}…(${x.length})` : x,
  );
}
