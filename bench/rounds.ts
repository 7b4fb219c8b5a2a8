/**
 * Interleaved measurement: every round runs each variant once (a batch of
 * `concurrency` runs), in a fresh random order, so machine noise, CPU
 * frequency changes and the neighbours of a shared VM hit all rows alike.
 */
import { median, shuffle } from './stats';
import type { Variant } from './variants';

export interface RowResult {
  variant: Variant;
  /** Latency of every successful run, call to completion, ms. */
  latencies: number[];
  /** Mean latency of each round's batch (NaN when it failed), indexed by round: for paired ratios. */
  perRound: number[];
  /** Summed wall time of the batches, ms: runs / this = throughput. */
  batchWallMs: number;
  /** Payload exec→exit times where the variant reports them (Container.run's wallTimeMs). */
  inner: number[];
  failures: number;
  firstError?: string;
  /** latencies.length at the end of each block of rounds (see runRounds). */
  blockEnds: number[];
}

export interface PhaseOptions {
  rounds: number;
  /** Rounds run first and thrown away (JIT, page cache, dentry cache). */
  warmup: number;
  random: () => number;
  /** Written to stderr as the phase goes. */
  name: string;
}

interface Batch {
  latencies: number[];
  inner: number[];
  wall: number;
  errors: unknown[];
}

async function batch(v: Variant): Promise<Batch> {
  const t0 = performance.now();
  const settled = await Promise.allSettled(
    Array.from({ length: v.concurrency }, async () => {
      const start = performance.now();
      const inner = await v.once();
      return { latency: performance.now() - start, inner };
    }),
  );
  const wall = performance.now() - t0;
  const out: Batch = { latencies: [], inner: [], wall, errors: [] };
  for (const s of settled) {
    if (s.status === 'rejected') {
      out.errors.push(s.reason);
      continue;
    }
    out.latencies.push(s.value.latency);
    if (s.value.inner !== undefined) out.inner.push(s.value.inner);
  }
  return out;
}

/** Empty rows for the variants, to be filled by runRounds(). */
export function newRows(variants: readonly Variant[]): RowResult[] {
  return variants.map((variant) => ({ variant, latencies: [], perRound: [], batchWallMs: 0, inner: [], failures: 0, blockEnds: [] }));
}

/** Runs one block: the available variants round-robin, appended to `rows`; unavailable ones stay empty. */
export async function runRounds(rows: readonly RowResult[], o: PhaseOptions): Promise<void> {
  const live = rows.filter((r) => r.variant.unavailable === undefined);
  const total = o.warmup + o.rounds;
  let reported = 0;
  for (let round = 0; round < total; round++) {
    const measuring = round >= o.warmup;
    for (const row of shuffle([...live], o.random)) {
      const b = await batch(row.variant);
      if (!measuring) continue;
      row.latencies.push(...b.latencies);
      row.inner.push(...b.inner);
      row.batchWallMs += b.wall;
      row.failures += b.errors.length;
      if (b.errors.length > 0 && row.firstError === undefined) row.firstError = String((b.errors[0] as Error)?.message ?? b.errors[0]);
      row.perRound.push(b.errors.length === 0 ? b.latencies.reduce((s, x) => s + x, 0) / b.latencies.length : NaN);
    }
    const pct = Math.floor(((round + 1) / total) * 4);
    if (pct > reported) {
      reported = pct;
      process.stderr.write(`  ${o.name}: ${pct * 25}% (${round + 1}/${total} rounds, ${o.warmup} warm-up)\n`);
    }
  }
  for (const row of rows) row.blockEnds.push(row.latencies.length);
}

/** Median latency of each block of a row. */
export function blockMedians(row: RowResult): number[] {
  let from = 0;
  return row.blockEnds.map((end) => {
    const m = median(row.latencies.slice(from, end));
    from = end;
    return m;
  });
}
