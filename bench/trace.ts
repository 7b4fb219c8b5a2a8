/**
 * Where the time goes inside the container's init: with
 * ISOLATE_KIT_TRACE=1 init writes each setup step's duration to the
 * container's stderr ("isolate-kit-init: step 3 (op 2) 17 us").
 */
import { Container, type ContainerOptions } from '../lib';
import { percentile, summarize } from './stats';

/** Op numbers of lib/plan.ts (a const enum, so not visible at run time). */
const OP_NAMES: Record<number, string> = {
  1: 'bind',
  2: 'mount (proc, sysfs, tmpfs, devpts)',
  3: 'mask a path',
  4: 'make a path read-only',
  5: 'mkdir',
  6: 'symlink',
  7: 'pivot_root (+ detach old root)',
  8: 'sethostname',
  9: 'bring up lo',
  11: 'unshare',
  12: 'mknod',
  13: 'mount the overlay root',
  14: 'keep the writable layer open',
  15: 'seccomp filter (+ netlink guard listener)',
  16: 'Landlock domain',
  17: 'empty session keyring',
};

const LINE = /^isolate-kit-init: step (\d+) \(op (\d+)\) (\d+) us$/;

export interface StepTime {
  label: string;
  medianUs: number;
  p90Us: number;
}

export interface OpTime extends StepTime {
  op: number;
  steps: number;
}

export interface TraceReport {
  runs: number;
  byOp: OpTime[];
  /** The slowest single steps, by median. */
  slowest: StepTime[];
  /** Median over runs of the summed step times, µs. */
  setupMedianUs: number;
  /** Median latency of the traced runs, ms. */
  runMedianMs: number;
  /** With `focus`: the steps whose description matches it, and the median over runs of their sum, µs. */
  focus?: { steps: StepTime[]; medianUs: number };
}

export interface TraceOptions {
  /** Options of the traced containers. @default {} */
  container?: ContainerOptions;
  /** Steps (by description) to report on their own, e.g. /cgroup/. */
  focus?: RegExp;
}

/** Runs `runs` traced default containers; undefined when init prints no trace. */
export async function traceSetup(runs: number, options: TraceOptions = {}): Promise<TraceReport | undefined> {
  const saved = process.env.ISOLATE_KIT_TRACE;
  process.env.ISOLATE_KIT_TRACE = '1';
  const perStep = new Map<number, { op: number; us: number[] }>();
  const totals: number[] = [];
  const focusTotals: number[] = [];
  const latencies: number[] = [];
  let descriptions: readonly { description?: string }[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const c = new Container(options.container ?? {});
      const t0 = performance.now();
      const r = await c.run(['/bin/true']);
      latencies.push(performance.now() - t0);
      // The step list is private; used only to name the steps, when it is there.
      const steps = (c as unknown as { containerSteps?: { description?: string }[] }).containerSteps;
      await c.destroy();
      if (Array.isArray(steps)) descriptions = steps;
      let total = 0;
      let focused = 0;
      for (const line of r.stderr.split('\n')) {
        const m = LINE.exec(line);
        if (!m) continue;
        const [step, op, us] = [Number(m[1]), Number(m[2]), Number(m[3])];
        const entry = perStep.get(step) ?? { op, us: [] };
        entry.us.push(us);
        perStep.set(step, entry);
        total += us;
        if (options.focus?.test(descriptions[step]?.description ?? '')) focused += us;
      }
      totals.push(total);
      focusTotals.push(focused);
    }
  } finally {
    if (saved === undefined) delete process.env.ISOLATE_KIT_TRACE;
    else process.env.ISOLATE_KIT_TRACE = saved;
  }
  if (perStep.size === 0) return undefined;

  const byOpMap = new Map<number, { steps: number; perRun: number[] }>();
  const slowest: StepTime[] = [];
  for (const [step, { op, us }] of [...perStep].sort((a, b) => a[0] - b[0])) {
    const agg = byOpMap.get(op) ?? { steps: 0, perRun: new Array<number>(us.length).fill(0) };
    agg.steps++;
    us.forEach((x, i) => (agg.perRun[i] = (agg.perRun[i] ?? 0) + x));
    byOpMap.set(op, agg);
    const s = summarize(us);
    slowest.push({ label: `step ${step}: ${descriptions[step]?.description ?? OP_NAMES[op] ?? `op ${op}`}`, medianUs: s.median, p90Us: s.p90 });
  }
  const byOp: OpTime[] = [...byOpMap].map(([op, { steps, perRun }]) => {
    const sorted = [...perRun].sort((a, b) => a - b);
    return { op, steps, label: OP_NAMES[op] ?? `op ${op}`, medianUs: percentile(sorted, 50), p90Us: percentile(sorted, 90) };
  });
  byOp.sort((a, b) => b.medianUs - a.medianUs);
  const focusSteps = options.focus ? slowest.filter((s) => options.focus!.test(s.label.replace(/^step \d+: /, ''))) : [];
  slowest.sort((a, b) => b.medianUs - a.medianUs);
  const report: TraceReport = {
    runs,
    byOp,
    slowest: slowest.slice(0, 5),
    setupMedianUs: summarize(totals).median,
    runMedianMs: summarize(latencies).median,
  };
  if (options.focus) report.focus = { steps: focusSteps, medianUs: summarize(focusTotals).median };
  return report;
}
