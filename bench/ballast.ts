/**
 * Heap ballast: live JS objects that make the Node process big, as a busy
 * server's is. fork() must copy the page tables of all of it; a
 * CLONE_VM|CLONE_VFORK spawn shares them and should not care.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** One ballast object: ~1 KiB, mostly an unboxed double array (cheap for the GC to mark). */
interface Item {
  id: number;
  tag: string;
  values: number[];
}

let held: Item[][] | undefined;

/** A full GC, even without --expose-gc (flag set at run time, gc() taken from a fresh context). */
export function fullGc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    return;
  }
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Allocates live objects until heapUsed has grown by `bytes`; returns the heapUsed reached. */
export function holdBallast(bytes: number): number {
  fullGc();
  const base = process.memoryUsage().heapUsed;
  held = [];
  let id = 0;
  while (process.memoryUsage().heapUsed - base < bytes) {
    const chunk: Item[] = [];
    for (let i = 0; i < 4096; i++, id++) chunk.push({ id, tag: `item-${id}`, values: new Array<number>(120).fill(id + 0.5) });
    held.push(chunk);
  }
  fullGc();
  return process.memoryUsage().heapUsed;
}

/** Lets the ballast go (and collects it). */
export function dropBallast(): void {
  held = undefined;
  fullGc();
}

/** Number of ballast objects held (keeps the reference observable). */
export function ballastItems(): number {
  return held?.reduce((n, c) => n + c.length, 0) ?? 0;
}

export interface GcTotals {
  /** Collections of any kind. */
  count: number;
  /** Of them, mark-compact (major) ones. */
  major: number;
  /** Their summed pause time, ms. */
  ms: number;
}

/** Every GC pause of this process since startGcLog(): [start, end] in performance.now() ms, and whether it was major. */
const gcLog: { start: number; end: number; major: boolean }[] = [];
let gcObserver: PerformanceObserver | undefined;

/** Starts recording GC pauses (perf_hooks 'gc' entries, which arrive asynchronously). */
export function startGcLog(): void {
  if (gcObserver) return;
  gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      gcLog.push({ start: e.startTime, end: e.startTime + e.duration, major: kind === constants.NODE_PERFORMANCE_GC_MAJOR });
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
}

export function stopGcLog(): void {
  gcObserver?.disconnect();
  gcObserver = undefined;
}

/** The GC pauses that started inside the windows ([start, end], performance.now() ms). */
export async function gcTotals(windows: readonly [number, number][]): Promise<GcTotals> {
  await new Promise((resolve) => setTimeout(resolve, 20)); // let pending entries arrive
  const t: GcTotals = { count: 0, major: 0, ms: 0 };
  for (const g of gcLog) {
    if (!windows.some(([a, b]) => g.start >= a && g.start <= b)) continue;
    t.count++;
    t.ms += g.end - g.start;
    if (g.major) t.major++;
  }
  return t;
}
