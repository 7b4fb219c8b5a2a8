/**
 * The long run: many sequential Container.run(['/bin/true']) in a child
 * `node --expose-gc`, so heap and RSS can be read after a real full GC and
 * nothing the main benchmark allocated (its ballast) is counted. Run as
 * `node --expose-gc long.js COUNT WARMUP`; it prints one JSON line.
 *
 * V8 grows its young generation with the allocation rate (here from 2 to
 * 32 MiB over the first ~2000 runs): RSS that is V8 sizing itself, not a
 * leak. So the child starts with --min-semi-space-size=16, the warm-up goes
 * on until the young generation has kept its size for a while, and
 * heapTotal is reported next to RSS.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { Container } from '../lib';
import { childReport, reportFromChild } from './child';
import { median, summarize, type Summary } from './stats';

export interface Snapshot {
  /** Runs done when it was taken. */
  runs: number;
  heapUsed: number;
  /** V8's whole heap as reserved (young generation included). */
  heapTotal: number;
  rss: number;
  /** Entries of /proc/self/fd (not counting the one reading it). */
  fds: number;
  threads: number;
  /** Live child processes (from /proc/self/task/<tid>/children). */
  children: number;
  /** The addon's resident zygote, when there is one: its RSS and open fds. */
  zygoteRss?: number;
  zygoteFds?: number;
}

export interface LongReport {
  count: number;
  /** Warm-up runs done before the start snapshot. */
  warmup: number;
  /** Whether snapshots follow a full GC. */
  gc: boolean;
  start: Snapshot;
  end: Snapshot;
  /** Every tenth of the way. */
  checkpoints: Snapshot[];
  latency: Summary;
  /** Latency of the first and the last tenth of the runs. */
  firstTenth: Summary;
  lastTenth: Summary;
  /** Median latency of each tenth. */
  tenthMedians: number[];
  /** Runs per second over the whole loop. */
  throughput: number;
  failures: number;
  firstError?: string;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** pid of our child called isolate-kit-zyg, if any. */
function zygotePid(): number | undefined {
  for (const tid of readdirSync('/proc/self/task')) {
    for (const pid of (readProc(`/proc/self/task/${tid}/children`) ?? '').split(' ').filter(Boolean)) {
      if (readProc(`/proc/${pid}/comm`)?.trim() === 'isolate-kit-zyg') return Number(pid);
    }
  }
  return undefined;
}

function snapshot(runs: number): Snapshot {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  const mem = process.memoryUsage();
  let children = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    children += (readProc(`/proc/self/task/${tid}/children`) ?? '').split(' ').filter(Boolean).length;
  }
  const status = readProc('/proc/self/status') ?? '';
  const snap: Snapshot = {
    runs,
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    rss: mem.rss,
    fds: readdirSync('/proc/self/fd').length - 1,
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? NaN),
    children,
  };
  const zyg = zygotePid();
  if (zyg !== undefined) {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readProc(`/proc/${zyg}/status`) ?? '')?.[1];
    if (kb !== undefined) snap.zygoteRss = Number(kb) * 1024;
    try {
      snap.zygoteFds = readdirSync(`/proc/${zyg}/fd`).length;
    } catch {
      /* gone */
    }
  }
  return snap;
}

function youngGeneration(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

async function child(count: number, minWarmup: number): Promise<LongReport> {
  let failures = 0;
  let firstError: string | undefined;
  const one = async (): Promise<number | undefined> => {
    const t0 = performance.now();
    try {
      const r = await Container.run(['/bin/true']);
      if (r.status !== 'ok') throw r.error ?? new Error(`status ${r.status}`);
      return performance.now() - t0;
    } catch (err) {
      failures++;
      firstError ??= (err as Error).message;
      return undefined;
    }
  };
  // At least minWarmup runs, then on until the young generation kept its size for `stable` runs (at most 5000).
  const stable = Math.max(100, Math.min(1000, Math.floor(count / 4)));
  let warm = 0;
  let sizedAt = 0;
  let young = youngGeneration();
  while (warm < minWarmup || (warm - sizedAt < stable && warm < Math.max(minWarmup, 5000))) {
    await one();
    warm++;
    if (youngGeneration() !== young) {
      young = youngGeneration();
      sizedAt = warm;
    }
  }
  process.stderr.write(`  long run: ${warm} warm-up runs\n`);
  failures = 0;
  firstError = undefined;
  const start = snapshot(0);
  const checkpoints: Snapshot[] = [];
  const latencies: number[] = [];
  const step = Math.max(1, Math.floor(count / 10));
  let busy = 0;
  for (let i = 1; i <= count; i++) {
    const t = await one();
    if (t !== undefined) {
      latencies.push(t);
      busy += t;
    }
    if (i % step === 0 && i < count) {
      checkpoints.push(snapshot(i));
      process.stderr.write(`  long run: ${i}/${count}\n`);
    }
  }
  const end = snapshot(count);
  const tenth = Math.max(1, Math.floor(latencies.length / 10));
  const tenthMedians: number[] = [];
  for (let i = 0; i + tenth <= latencies.length && tenthMedians.length < 10; i += tenth) tenthMedians.push(median(latencies.slice(i, i + tenth)));
  const report: LongReport = {
    count,
    warmup: warm,
    gc: typeof (globalThis as { gc?: unknown }).gc === 'function',
    start,
    end,
    checkpoints,
    latency: summarize(latencies),
    firstTenth: summarize(latencies.slice(0, tenth)),
    lastTenth: summarize(latencies.slice(-tenth)),
    tenthMedians,
    throughput: latencies.length / (busy / 1000),
    failures,
  };
  if (firstError !== undefined) report.firstError = firstError;
  return report;
}

/** Flags of the long run's node. */
export const LONG_NODE_FLAGS = ['--expose-gc', '--min-semi-space-size=16'];

/** Runs the long part in a child `node --expose-gc` and returns its report. */
export function runLong(count: number, warmup: number): Promise<LongReport> {
  return childReport<LongReport>('long run', LONG_NODE_FLAGS, __filename, [String(count), String(warmup)]);
}

if (require.main === module) {
  const [count, warmup] = process.argv.slice(2).map(Number);
  reportFromChild(child(count ?? 10_000, warmup ?? 100));
}
