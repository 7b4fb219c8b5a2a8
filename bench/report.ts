/** Renders the results as markdown: the tables for stdout, the whole page for docs/benchmarks.md. */
import { readCgroupMounts } from '../lib/cgroup/host';
import type { GcTotals } from './ballast';
import type { DensityReport } from './density';
import type { ImageIoReport } from './images';
import { COLD_MOVE_GAP_MS, TARGET_PAUSE_RESUME_MS, TARGET_STATS_MS, type CgroupOpsReport, type OpSummary } from './cgroup-ops';
import type { FloorReport } from './cgroup-floor';
import { LONG_NODE_FLAGS, type LongReport, type Snapshot } from './long';
import { blockMedians, type RowResult } from './rounds';
import { delta, median, mib, ms, ratio, summarize, table } from './stats';
import type { TraceReport } from './trace';

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  memory: string;
  kernel: string;
  node: string;
  cgroups: string;
  uid: number;
  bwrap: string;
  crun: string;
  /** `git describe` of the checkout measured, with "+ changes" when lib/ or csrc/ differ from it. */
  commit: string;
  loadStart: number[];
  loadEnd: number[];
}

export interface Phase {
  name: string;
  /** Lowest and highest at the start of its blocks (after a full GC). */
  heapUsed: [number, number];
  rss: [number, number];
  seconds: number;
  blocks: number;
  /** GC pauses in the Node process while the rows ran. */
  gc: GcTotals;
  rows: RowResult[];
}

export interface Settings {
  quick: boolean;
  rounds: number;
  warmup: number;
  /** Alternating blocks per condition (without / with ballast). */
  blocks: number;
  /** Warm-up rounds of every block after the first. */
  blockWarmup: number;
  long: number;
  longWarmup: number;
  traceRuns: number;
  /** cgroup operations: stats() calls, pause()+resume() pairs, CGroup create()+destroy() loops, fresh containers' first pause. */
  cgroupStats: number;
  cgroupPause: number;
  cgroupCreate: number;
  cgroupFirstPauses: number;
  cgroupMoves: number;
  cgroupBackToBack: number;
  ballastMiB: number;
  seed: number;
}

export interface BenchResult {
  settings: Settings;
  machine: Machine;
  baseline: Phase;
  ballast: Phase;
  trace: TraceReport | undefined;
  /** Traced runs of Container.run with cgroup {}, focused on the cgroup steps. */
  cgroupTrace: TraceReport | undefined;
  cgroupOps: CgroupOpsReport | string;
  /** A 200 MiB layer through the image store. */
  imageIo: ImageIoReport | string;
  /** Many sandboxes held at once, against as many plain children. */
  density: DensityReport | string;
  /** cgroups named after the bench process still there at its end (should be none). */
  leftoverCgroups: string[];
  /** Directories of the library's pool of ready groups at the end (removed when the process exits). */
  pooledCgroups: number;
  long: LongReport | string;
}

/** Targets, as ratios measured within one run. */
export const TARGET = {
  spawnRatio: 2.2,
  ballastDeltaMs: 0.3,
  longDrift: 0.1,
  /** What a cgroup may add to the median Container.run (setup + teardown). */
  cgroupDeltaMs: 0.3,
  statsMs: TARGET_STATS_MS,
  pauseResumeMs: TARGET_PAUSE_RESUME_MS,
  /** A 3-layer overlay root against the host root, ratio of medians. */
  overlayRatio: 1.3,
} as const;

/** The limits row again with network: 'host', compared with 'container-host-net' (info). */
const HOST_NET_CG = 'container-host-net-cg-limits';

/** Both network: 'host' rows, when both ran. */
function hostNetRows(p: Phase): { hn: RowResult; hc: RowResult } | undefined {
  const hn = row(p, 'container-host-net');
  const hc = row(p, HOST_NET_CG);
  return hn?.latencies.length && hc?.latencies.length && hc.variant.unavailable === undefined ? { hn, hc } : undefined;
}

/** The cgroup rows of the interleaved table, each compared with 'container' (no cgroup). */
const CGROUP_ROWS = [
  { key: 'container-cg', short: 'cgroup {}' },
  { key: 'container-cg-limits', short: 'cgroup {memory 64M, pids 64}' },
] as const;

/**
 * The runs in blocks of one kind (cgroup-ops.ts backToBack): median of each
 * cgroup kind less the no-group one's, keyed as CGROUP_ROWS. There a group's
 * removal, made in the turn after its run's result, lands on a run of its
 * own kind; in the interleaved rows, on whichever row runs next.
 */
function blockedDeltas(r: BenchResult): { plain: OpSummary; byKey: Map<string, OpSummary> } | undefined {
  if (typeof r.cgroupOps === 'string') return undefined;
  const find = (re: RegExp) => (r.cgroupOps as CgroupOpsReport).ops.find((x) => re.test(x.label));
  const plain = find(/^`Container\.run\(\['\/bin\/true'\]\)` back to back/);
  const cg = find(/^`Container\.run\(\['\/bin\/true'\], \{ cgroup: \{\} \}\)` back to back/);
  const lim = find(/^`Container\.run\(\['\/bin\/true'\], \{ cgroup: \{ memory/);
  if (!plain || !cg || !lim) return undefined;
  return { plain, byKey: new Map([['container-cg', cg], ['container-cg-limits', lim]]) };
}

/** What issue #3 gives as the C floor of a memory+pids group on v1 where its target was set, ms. */
const ISSUE_FLOOR_MS = 0.16;

/** The C floor measured in this run (cgroup-floor.ts), if it was. */
function floorOf(r: BenchResult): FloorReport | undefined {
  return typeof r.cgroupOps === 'string' || typeof r.cgroupOps.floor !== 'object' ? undefined : r.cgroupOps.floor;
}

/** The C floor, in words: what it is, what it was here, and the rows against it. */
export function floorNote(r: BenchResult): string {
  if (typeof r.cgroupOps === 'string') return '';
  const f = r.cgroupOps.floor;
  if (typeof f !== 'object') return `The C floor of a group's cost (bench/cgroup-floor.c) was ${f ?? 'not measured'}.`;
  const a = r.baseline;
  const d = f.groupMs - f.noneMs;
  const bd = blockedDeltas(r);
  const times = (x: number) => ratio(x / d);
  const rows = CGROUP_ROWS.map(({ key, short }) => {
    const di = med(a, key) - med(a, 'container');
    const k = bd?.byKey.get(key);
    return `${short} ${times(di)}${k && bd ? ` (in blocks ${times(k.median - bd.plain.median)})` : ''}`;
  });
  return (
    `For scale, the C floor in this run: bench/cgroup-floor.c, one C process, starts \`/bin/true\` with fork + exec and waits for it, ` +
    `in ${f.rounds} rounds alternating without and with a fresh group in ${f.where.join(' and ')}: mkdir, open the join ` +
    `file${f.where.length > 1 ? 's' : ''}, the child writes 0 ${f.where[0] === 'unified' ? 'to cgroup.procs' : 'to each `tasks`'} before exec, then the memory peak read and the ` +
    `directories removed, all of it on the start's path. It took ${ms(f.noneMs)} and ${ms(f.groupMs)} ms at the median: ` +
    `${delta(d)} ms (per round ${delta(f.pairedDeltaMs)} ms), where issue #3 gives ~${ISSUE_FLOOR_MS} ms for the host its target ` +
    `of +${TARGET.cgroupDeltaMs} ms (${ratio(TARGET.cgroupDeltaMs / ISSUE_FLOOR_MS)} that floor) was set on. ` +
    `The library's rows added ${rows.join(' and ')} this run's floor. The floor has no namespaces, no pool and no second ` +
    `thread, and reads one figure where a run reads all of a RunResult's; the library's pool takes the mkdirs off the start's path, ` +
    `but that work still shares the machine's two CPUs with the start.`
  );
}

function row(p: Phase, key: string): RowResult | undefined {
  return p.rows.find((r) => r.variant.key === key);
}

function med(p: Phase, key: string): number {
  const r = row(p, key);
  return r && r.latencies.length ? summarize(r.latencies).median : NaN;
}

/** Median over rounds of a/b within the same round: noise that hits a round hits both. */
function pairedRatio(p: Phase, a: string, b: string): number {
  const ra = row(p, a);
  const rb = row(p, b);
  if (!ra || !rb || !ra.perRound.length || !rb.perRound.length) return NaN;
  const ratios = ra.perRound.map((x, i) => x / rb.perRound[i]!).filter(Number.isFinite);
  return ratios.length ? summarize(ratios).median : NaN;
}

/** Median over rounds of a − b within the same round, ms. */
function pairedDelta(p: Phase, a: string, b: string): number {
  const ra = row(p, a);
  const rb = row(p, b);
  if (!ra || !rb || !ra.perRound.length || !rb.perRound.length) return NaN;
  const d = ra.perRound.map((x, i) => x - rb.perRound[i]!).filter(Number.isFinite);
  return d.length ? median(d) : NaN;
}

/** Share of rounds (0..1) where a was more than `ms` slower than b in the same round. */
function slowerShare(p: Phase, a: string, b: string, ms: number): number {
  const ra = row(p, a);
  const rb = row(p, b);
  if (!ra || !rb || !ra.perRound.length || !rb.perRound.length) return NaN;
  const d = ra.perRound.map((x, i) => x - rb.perRound[i]!).filter(Number.isFinite);
  return d.length ? d.filter((x) => x > ms).length / d.length : NaN;
}

/** A round whose cgroup run is this much slower than its no-cgroup run: a join that waited for a grace period. */
const SLOW_JOIN_MS = 2;

function blockPair(a: Phase, b: Phase, key: string): number {
  const ra = row(a, key);
  const rb = row(b, key);
  return ra && rb && ra.latencies.length && rb.latencies.length ? blockDeltas(ra, rb).median : NaN;
}

function throughput(r: RowResult): number {
  return r.batchWallMs > 0 ? r.latencies.length / (r.batchWallMs / 1000) : NaN;
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'met' : '**missed**';
}

/** "4.1 MiB" or "385.0–396.2 MiB". */
function range([lo, hi]: [number, number]): string {
  return Math.abs(hi - lo) < 0.05 * 1024 * 1024 ? mib(hi) : `${mib(lo).replace(' MiB', '')}–${mib(hi)}`;
}

/** Memory and GC of the Node process while a condition ran. */
export function phaseNote(p: Phase): string {
  return (
    `Node process: heapUsed ${range(p.heapUsed)}, RSS ${range(p.rss)} (at the start of each of ${p.blocks} blocks, after a full GC); ` +
    `GC while measuring: ${p.gc.count} pauses (${p.gc.major} major), ${p.gc.ms.toFixed(0)} ms in ${p.seconds.toFixed(0)} s.`
  );
}

/** The main table of one phase. */
export function phaseTable(p: Phase): string {
  const spawn = med(p, 'spawn');
  const bw = med(p, 'bwrap');
  const rows = p.rows.map((r) => {
    if (r.variant.unavailable !== undefined) return [r.variant.label, r.variant.unavailable, '', '', '', '', '', ''];
    const s = summarize(r.latencies);
    const fail = r.failures ? ` (${r.failures} failed: ${r.firstError ?? '?'})` : '';
    return [
      r.variant.label + fail,
      String(s.n),
      ms(s.median),
      ms(s.p90),
      ms(s.p99),
      Math.round(throughput(r)).toString(),
      ratio(s.median / spawn),
      ratio(s.median / bw),
    ];
  });
  return table(['variant', 'runs', 'median ms', 'p90 ms', 'p99 ms', 'runs/s', '× spawn', '× bwrap'], rows);
}

/**
 * Ballast minus no-ballast, block by block: block i of each condition ran
 * back to back, so each pair saw nearly the same machine. Median and range.
 */
function blockDeltas(a: RowResult, b: RowResult): { median: number; min: number; max: number } {
  const ma = blockMedians(a);
  const mb = blockMedians(b);
  const d = ma.map((x, i) => mb[i]! - x).filter(Number.isFinite);
  return { median: median(d), min: Math.min(...d), max: Math.max(...d) };
}

/** Each row without and with the ballast. */
export function ballastTable(a: Phase, b: Phase): string {
  const rows: string[][] = [];
  for (const ra of a.rows) {
    const rb = row(b, ra.variant.key);
    if (!rb || ra.variant.unavailable !== undefined || !ra.latencies.length || !rb.latencies.length) continue;
    const sa = summarize(ra.latencies);
    const sb = summarize(rb.latencies);
    const bd = blockDeltas(ra, rb);
    rows.push([
      ra.variant.label,
      ms(sa.median),
      ms(sb.median),
      delta(sb.median - sa.median),
      `${delta(bd.median)} (${delta(bd.min)} … ${delta(bd.max)})`,
      delta(sb.p90 - sa.p90),
      delta(sb.p99 - sa.p99),
    ]);
  }
  return table(['variant', 'median without', 'median with', 'Δ median ms', 'Δ per block pair: median (range)', 'Δ p90 ms', 'Δ p99 ms'], rows);
}

interface Target {
  what: string;
  value: string;
  target: string;
  ok: boolean | undefined;
}

/** A target row; `ok` is only judged when the value could be measured. */
function target(what: string, value: string, goal: string, ok?: () => boolean, measured = true): Target {
  return { what, value, target: goal, ok: ok && measured ? ok() : undefined };
}

export function targets(r: BenchResult): Target[] {
  const a = r.baseline;
  const b = r.ballast;
  const heapMiB = r.settings.ballastMiB;
  const cs = med(a, 'container') / med(a, 'spawn');
  const cb = med(a, 'container') / med(a, 'bwrap');
  const dc = med(b, 'container') - med(a, 'container');
  const out: Target[] = [
    target('Container.run / spawn, ratio of medians', ratio(cs), `≤ ${TARGET.spawnRatio}×`, () => cs <= TARGET.spawnRatio, Number.isFinite(cs)),
    target('Container.run / spawn, median of per-round ratios', ratio(pairedRatio(a, 'container', 'spawn')), '(same, paired)'),
    target('Container.run / bwrap, ratio of medians', ratio(cb), '< 1×', () => cb < 1, Number.isFinite(cb)),
    target('Container.run / bwrap, median of per-round ratios', ratio(pairedRatio(a, 'container', 'bwrap')), '(same, paired)'),
    target('with ballast: Container.run / spawn', ratio(med(b, 'container') / med(b, 'spawn')), '(info)'),
    target(`Container.run median, +${heapMiB} MiB heap`, `${delta(dc)} ms`, `≤ +${TARGET.ballastDeltaMs} ms`, () => dc <= TARGET.ballastDeltaMs, Number.isFinite(dc)),
    target(`same, median of ${b.blocks} block-pair Δ`, `${delta(blockPair(a, b, 'container'))} ms`, '(same, paired by block)'),
    target(`spawn median, +${heapMiB} MiB heap`, `${delta(med(b, 'spawn') - med(a, 'spawn'))} ms`, '(info: fork copies page tables)'),
  ];
  if (row(a, 'crun')?.variant.unavailable === undefined) {
    out.splice(4, 0, target('Container.run / crun, ratio of medians', ratio(med(a, 'container') / med(a, 'crun')), '(info)'));
  }
  const blocked = blockedDeltas(r);
  for (const { key, short } of CGROUP_ROWS) {
    const d = med(a, key) - med(a, 'container');
    out.push(
      target(`Container.run, ${short}: median − no-cgroup median (interleaved; its removal lands on the next row)`, `${delta(d)} ms`, `≤ +${TARGET.cgroupDeltaMs} ms`, () => d <= TARGET.cgroupDeltaMs, Number.isFinite(d)),
      target(`same, median of per-round differences`, `${delta(pairedDelta(a, key, 'container'))} ms`, '(same, paired)'),
    );
    const k = blocked?.byKey.get(key);
    if (blocked && k) {
      const db = k.median - blocked.plain.median;
      out.push(target(`same, in blocks of one kind (its removal counted)`, `${delta(db)} ms`, `≤ +${TARGET.cgroupDeltaMs} ms`, () => db <= TARGET.cgroupDeltaMs, Number.isFinite(db)));
    }
  }
  const fl = floorOf(r);
  if (fl) {
    out.push(target(`C floor in this run: a fresh memory+pids group around fork + exec of /bin/true, in C, serial (bench/cgroup-floor.c)`, `${delta(fl.groupMs - fl.noneMs)} ms`, `(info: ~+${ISSUE_FLOOR_MS} ms where the target was set)`));
    for (const { key, short } of CGROUP_ROWS) {
      const d = med(a, key) - med(a, 'container');
      out.push(target(`Container.run, ${short}: what it adds ÷ that floor (interleaved)`, ratio(d / (fl.groupMs - fl.noneMs)), `(info: ${ratio(TARGET.cgroupDeltaMs / ISSUE_FLOOR_MS)} where set)`));
    }
  }
  if (row(a, 'container-overlay3')?.variant.unavailable === undefined) {
    const o = med(a, 'container-overlay3') / med(a, 'container');
    out.push(
      target('Container.run, 3-layer overlay root / host root, ratio of medians', ratio(o), `≤ ${TARGET.overlayRatio}×`, () => o <= TARGET.overlayRatio, Number.isFinite(o)),
      target('same, median of per-round ratios', ratio(pairedRatio(a, 'container-overlay3', 'container')), '(same, paired)'),
    );
  }
  if (typeof r.imageIo !== 'string') {
    for (const x of r.imageIo.rows) {
      if (x.target !== undefined) out.push(target(`${x.label}, ${(r.imageIo.layerBytes / (1 << 20)).toFixed(0)} MiB layer`, `${x.medianMBps.toFixed(0)} MB/s`, `≥ ${x.target} MB/s`, () => x.medianMBps >= x.target!));
    }
  }
  if (typeof r.cgroupOps !== 'string') {
    const stats = opByTarget(r.cgroupOps, TARGET.statsMs);
    const pause = opByTarget(r.cgroupOps, TARGET.pauseResumeMs);
    if (stats) out.push(target('`container.stats()`, median', `${ms(stats.median)} ms`, `≤ ${TARGET.statsMs} ms`, () => stats.median <= TARGET.statsMs));
    if (pause) out.push(target('`pause()` + `resume()`, median', `${ms(pause.median)} ms`, `≤ ${TARGET.pauseResumeMs} ms`, () => pause.median <= TARGET.pauseResumeMs));
  }
  return out;
}

function pct(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : '-';
}

function opByTarget(o: CgroupOpsReport, goal: number): OpSummary | undefined {
  return o.ops.find((x) => x.target === goal);
}

/** The cgroup rows against the no-cgroup row: what a group adds to a start. */
export function cgroupCostTable(r: BenchResult): string {
  const a = r.baseline;
  const b = r.ballast;
  const base = row(a, 'container');
  const rows: string[][] = [];
  if (base && base.latencies.length) {
    const s = summarize(base.latencies);
    rows.push([base.variant.label + ' (no cgroup)', ms(s.median), ms(s.p90), '', '', '', '', '', '']);
  }
  for (const { key } of CGROUP_ROWS) {
    const ra = row(a, key);
    if (!ra) continue;
    if (ra.variant.unavailable !== undefined || !ra.latencies.length || !base?.latencies.length) {
      rows.push([ra.variant.label, ra.variant.unavailable ?? 'no runs', '', '', '', '', '', '', '']);
      continue;
    }
    const sa = summarize(ra.latencies);
    const sb = summarize(base.latencies);
    const d = sa.median - sb.median;
    const withBallast = med(b, key) - med(b, 'container');
    rows.push([
      ra.variant.label,
      ms(sa.median),
      ms(sa.p90),
      delta(d),
      delta(pairedDelta(a, key, 'container')),
      pct(slowerShare(a, key, 'container', SLOW_JOIN_MS)),
      delta(sa.p90 - sb.p90),
      delta(withBallast),
      verdict(d <= TARGET.cgroupDeltaMs),
    ]);
  }
  // The same group without a network namespace, against the same start
  // without one: how much of the cost is the group's own work, and how much
  // its meeting with the namespace made ahead (docs/cgroup-cost.md).
  const host = hostNetRows(a);
  if (host) {
    const { hn, hc } = host;
    const sh = summarize(hc.latencies);
    const sn = summarize(hn.latencies);
    rows.push([
      `${hc.variant.label} (against network: 'host' without one)`,
      ms(sh.median),
      ms(sh.p90),
      delta(sh.median - sn.median),
      delta(pairedDelta(a, HOST_NET_CG, 'container-host-net')),
      pct(slowerShare(a, HOST_NET_CG, 'container-host-net', SLOW_JOIN_MS)),
      delta(sh.p90 - sn.p90),
      delta(med(b, HOST_NET_CG) - med(b, 'container-host-net')),
      '(info)',
    ]);
  }
  return table(
    ['variant', 'median ms', 'p90 ms', 'Δ median ms', 'Δ per round: median', `rounds Δ > +${SLOW_JOIN_MS} ms`, 'Δ p90 ms', `Δ median with ${r.settings.ballastMiB} MiB ballast`, `≤ +${TARGET.cgroupDeltaMs} ms`],
    rows,
  );
}

/** stats(), pause()+resume() and the raw group operations. */
export function cgroupOpsTable(o: CgroupOpsReport): string {
  return table(
    ['operation', 'n', 'median ms', 'p95 ms', 'over 1 ms', 'target (median)', ''],
    o.ops.map((x) => [
      x.label,
      String(x.n),
      ms(x.median),
      ms(x.p95),
      Number.isFinite(x.over1ms) ? pct(x.over1ms) : '',
      x.target === undefined ? '' : `≤ ${x.target} ms`,
      x.target === undefined ? '' : verdict(x.median <= x.target),
    ]),
  );
}

/** The cgroup steps init runs (traced), and their sum per run. */
export function cgroupTraceTable(t: TraceReport): string {
  const us = (n: number) => (Number.isFinite(n) ? Math.round(n).toString() : '-');
  const steps = t.focus?.steps ?? [];
  return table(
    ['cgroup step in init (Container.run, cgroup {})', 'median µs', 'p90 µs'],
    [...steps.map((s) => [s.label, us(s.medianUs), us(s.p90Us)]), ['**sum per run** (median over runs)', us(t.focus?.medianUs ?? NaN), '']],
  );
}

export function targetTable(r: BenchResult): string {
  return table(
    ['ratio (same run, no ballast unless said)', 'value', 'target', ''],
    targets(r).map((t) => [t.what, t.value, t.target, t.ok === undefined ? '' : verdict(t.ok)]),
  );
}

/** One and two runs in flight, per-run latency and throughput. */
export function concurrencyTable(p: Phase): string {
  const rows: string[][] = [];
  for (const [one, two, name] of [
    ['spawn', 'spawn-c2', 'child_process.spawn'],
    ['container', 'container-c2', 'Container.run'],
  ] as const) {
    const base = row(p, one);
    for (const r of [base, row(p, two)]) {
      if (!r || !r.latencies.length || !base) continue;
      const s = summarize(r.latencies);
      const runsPerSecond = Math.round(throughput(r)).toString();
      rows.push([name, String(r.variant.concurrency), ms(s.median), ms(s.p90), ms(s.p99), runsPerSecond, ratio(throughput(r) / throughput(base))]);
    }
  }
  return table(['variant', 'in flight', 'per-run median ms', 'p90 ms', 'p99 ms', 'runs/s', 'throughput × 1 in flight'], rows);
}

const BREAKDOWN = ['container', 'container-cg', 'container-cg-limits', 'container-host-net', 'container-pid', 'container-none'] as const;

/** Container.run with fewer namespaces: what each part costs. */
export function breakdownTable(p: Phase): string {
  const base = med(p, 'container');
  const rows: string[][] = [];
  for (const key of BREAKDOWN) {
    const r = row(p, key);
    if (!r || !r.latencies.length) continue;
    const s = summarize(r.latencies);
    const inner = r.inner.length ? summarize(r.inner).median : NaN;
    rows.push([r.variant.label, ms(s.median), delta(s.median - base), ms(inner), ms(s.median - inner), ratio(s.median / med(p, 'spawn'))]);
  }
  return table(['variant', 'median ms', 'Δ vs default', 'payload exec→exit ms', 'rest (setup + teardown) ms', '× spawn'], rows);
}

export function traceTables(t: TraceReport): string {
  const us = (n: number) => (Number.isFinite(n) ? Math.round(n).toString() : '-');
  const byOp = table(
    ['setup op (init, in the new namespaces)', 'steps', 'median µs per run', 'p90 µs'],
    t.byOp.map((o) => [o.label, String(o.steps), us(o.medianUs), us(o.p90Us)]),
  );
  const slow = table(['slowest single steps', 'median µs', 'p90 µs'], t.slowest.map((s) => [s.label, us(s.medianUs), us(s.p90Us)]));
  return `${byOp}\n\n${slow}`;
}

type Measure = { label: string; get: (s: Snapshot) => number | undefined; bytes: boolean; judged: boolean };

/** What the long run tracks; `judged` ones must stay flat within TARGET.longDrift. */
const MEASURES: Measure[] = [
  { label: 'heapUsed (after a full GC)', get: (s) => s.heapUsed, bytes: true, judged: true },
  { label: 'V8 heapTotal (reserved)', get: (s) => s.heapTotal, bytes: true, judged: false },
  { label: 'RSS', get: (s) => s.rss, bytes: true, judged: true },
  { label: 'RSS outside the V8 heap', get: (s) => s.rss - s.heapTotal, bytes: true, judged: false },
  { label: 'open fds (/proc/self/fd)', get: (s) => s.fds, bytes: false, judged: true },
  { label: 'threads', get: (s) => s.threads, bytes: false, judged: false },
  { label: 'live child processes (the zygote is one)', get: (s) => s.children, bytes: false, judged: false },
  { label: 'zygote RSS', get: (s) => s.zygoteRss, bytes: true, judged: true },
  { label: 'zygote open fds', get: (s) => s.zygoteFds, bytes: false, judged: true },
];

function drift(start: number, end: number): number {
  return start ? (end - start) / start : end === 0 ? 0 : Infinity;
}

export function longFlat(l: LongReport): boolean {
  const flat = MEASURES.filter((m) => m.judged).every((m) => {
    const a = m.get(l.start);
    const b = m.get(l.end);
    return a === undefined || b === undefined || Math.abs(drift(a, b)) <= TARGET.longDrift;
  });
  return flat && l.end.children <= l.start.children;
}

export function longTables(l: LongReport): string {
  const rows: string[][] = [];
  for (const m of MEASURES) {
    const a = m.get(l.start);
    const b = m.get(l.end);
    if (a === undefined || b === undefined) continue;
    const fmt = (n: number) => (m.bytes ? mib(n) : String(n));
    const pct = drift(a, b) * 100;
    rows.push([m.label + (m.judged ? '' : ' (info)'), fmt(a), fmt(b), `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`]);
  }
  const mem = table(['measure', 'start', 'end', 'change'], rows);
  const lat = table(
    ['Container.run latency', 'runs', 'median ms', 'p90 ms', 'p99 ms'],
    [
      ['all runs', String(l.latency.n), ms(l.latency.median), ms(l.latency.p90), ms(l.latency.p99)],
      ['first tenth', String(l.firstTenth.n), ms(l.firstTenth.median), ms(l.firstTenth.p90), ms(l.firstTenth.p99)],
      ['last tenth', String(l.lastTenth.n), ms(l.lastTenth.median), ms(l.lastTenth.p90), ms(l.lastTenth.p99)],
    ],
  );
  const cp = (s: Snapshot) => `${s.runs}: ${mib(s.heapUsed)} heap, ${mib(s.rss)} RSS, ${s.fds} fds`;
  const fail = l.failures ? `\n\n**${l.failures} runs failed**, first: ${l.firstError}` : '';
  return (
    `${l.count} runs after ${l.warmup} warm-up runs.\n\n${mem}\n\n${lat}\n\nMedian latency of each tenth: ${l.tenthMedians.map(ms).join(', ')} ms. Throughput ${Math.round(l.throughput)} runs/s.` +
    ` Checkpoints (after ${l.gc ? 'a full GC' : 'no GC'}): ${l.checkpoints.map(cp).join('; ')}.${fail}`
  );
}

/** What gets printed to stdout. */
/** The image store's throughput rows. */
export function imageIoTable(o: ImageIoReport | string): string {
  if (typeof o === 'string') return o;
  const rows = o.rows.map((x) => [x.label, String(x.runs), `${x.medianMBps.toFixed(0)}`, `${x.minMBps.toFixed(0)}`, x.target === undefined ? '' : `≥ ${x.target}`, x.target === undefined ? '' : verdict(x.medianMBps >= x.target)]);
  return table(['operation (one layer tar of ' + (o.layerBytes / (1 << 20)).toFixed(0) + ` MiB, ${o.files} files)`, 'runs', 'median MB/s', 'slowest MB/s', 'target', ''], rows);
}

export function densityTable(d: DensityReport | string): string {
  if (typeof d === 'string') return d;
  const kib = (x: number) => `${x.toFixed(0)} KiB`;
  const rows = d.rows.map((x) => [
    x.label + (x.failed ? ` (${x.failed})` : ''),
    String(x.n),
    ms(x.startMs),
    ms(x.stopMs),
    kib(x.nodeRssKiB),
    kib(x.nodeHeapKiB),
    x.nodeFds.toFixed(1),
    `${kib(x.processesPssKiB)} (${x.processes.toFixed(0)})`,
    kib(x.kernelKiB),
  ]);
  const main = table(['started at once', 'n', 'start ms each', 'end ms each', 'Node RSS each', 'Node heap each', 'Node fds each', 'processes\' PSS each (processes)', 'kernel memory each'], rows);
  const b = d.budget;
  if (!b) return main;
  const at = (q: number) => b.usedMs[Math.min(b.usedMs.length - 1, Math.floor(q * b.usedMs.length))] ?? NaN;
  return `${main}

${b.n} shell spinners at once, each \`Container.run\` with \`cpuTime: ${b.budgetMs}\` (and \`pids: 16\`): ${b.ended} of ${b.n} ended by the budget;
the CPU time each had used then (\`cpuTimeMs\`), and how late a 10 ms timer in the Node process ran meanwhile (the
budget is watched by Node's timers, so it holds as well as Node gets the CPU among the spinners):

${table(['CPU time used at the end', 'min', 'median', 'p90', 'max', 'timer lateness median', 'max'], [[`budget ${b.budgetMs} ms`, ms(b.usedMs[0] ?? NaN), ms(at(0.5)), ms(at(0.9)), ms(at(1)), ms(b.lagMs[0]), ms(b.lagMs[1])]])}`;
}

export function summaryMarkdown(r: BenchResult): string {
  const parts = [
    `## Start latency of /bin/true, no ballast`,
    phaseNote(r.baseline),
    phaseTable(r.baseline),
    `## Same rows with a ${r.settings.ballastMiB} MiB heap ballast`,
    phaseNote(r.ballast),
    phaseTable(r.ballast),
    '## Ballast: without vs with',
    ballastTable(r.baseline, r.ballast),
    '## Ratios and targets',
    targetTable(r),
    '## What a cgroup adds to Container.run (no ballast)',
    cgroupCostTable(r),
    '## cgroup operations',
    typeof r.cgroupOps === 'string' ? r.cgroupOps : cgroupOpsTable(r.cgroupOps),
    '## Images: a 200 MiB layer through the store',
    imageIoTable(r.imageIo),
    '## Concurrency (no ballast)',
    concurrencyTable(r.baseline),
    '## Density: many held at once',
    densityTable(r.density),
    '## Where the time goes (no ballast)',
    breakdownTable(r.baseline),
  ];
  if (r.trace) parts.push(`Init's setup steps, ${r.trace.runs} traced runs (ISOLATE_KIT_TRACE=1): ${ms(r.trace.setupMedianUs / 1000)} ms of ${ms(r.trace.runMedianMs)} ms`, traceTables(r.trace));
  if (r.cgroupTrace?.focus) parts.push(`cgroup steps in init, ${r.cgroupTrace.runs} traced runs with cgroup {}`, cgroupTraceTable(r.cgroupTrace));
  parts.push(leftoverNote(r));
  parts.push(`## Long run`, typeof r.long === 'string' ? r.long : longTables(r.long));
  return parts.join('\n\n');
}

function cgroupFirstPauseNote(r: BenchResult): string {
  const v1 = typeof r.cgroupOps !== 'string' && r.cgroupOps.version === 1;
  return v1
    ? `on cgroup v1 it makes the group's freezer directory and moves the container's processes in, so it is timed on its own, on ${r.settings.cgroupFirstPauses} fresh containers; ` +
        `from a container's first pause on, the library keeps one empty group of its own frozen, so that later freezes and thaws do not switch the kernel's freezer key (lib/cgroup/freezer-hold.ts): ` +
        `these fresh containers come one after another and find it there`
    : `it is timed on its own, on ${r.settings.cgroupFirstPauses} fresh containers`;
}

function leftoverNote(r: BenchResult): string {
  return r.leftoverCgroups.length
    ? `**cgroups left behind by the bench: ${r.leftoverCgroups.length}** (${r.leftoverCgroups.slice(0, 5).join(', ')}${r.leftoverCgroups.length > 5 ? ', …' : ''}).`
    : `cgroups left behind by the bench process at its end: none${r.pooledCgroups ? ` (besides the library's pool of ready groups, ${r.pooledCgroups} directories, which it removes at exit)` : ''}.`;
}

/** The cgroup bullets of the interpretation: the added cost against its target, where it goes, the operations. */
function cgroupInterpretation(r: BenchResult): string[] {
  const a = r.baseline;
  const cg = row(a, 'container-cg');
  const cl = row(a, 'container-cg-limits');
  if (!cg || !cl || !cg.latencies.length || !cl.latencies.length) {
    return [`- **cgroups.** ${cg?.variant.unavailable ? `Container.run with a cgroup ${cg.variant.unavailable}; not measured.` : 'Not measured.'}`];
  }
  const out: string[] = [];
  const c = med(a, 'container');
  const d0 = med(a, 'container-cg') - c;
  const d1 = med(a, 'container-cg-limits') - c;
  // Judged on the larger of the interleaved figure and the one in blocks of
  // one kind, which counts each group's removal (blockedDeltas()).
  const bd = blockedDeltas(r);
  const judged = (key: string, d: number) => {
    const k = bd?.byKey.get(key);
    return k && bd ? Math.max(d, k.median - bd.plain.median) : d;
  };
  const j0 = judged('container-cg', d0);
  const j1 = judged('container-cg-limits', d1);
  const both = j0 <= TARGET.cgroupDeltaMs && j1 <= TARGET.cgroupDeltaMs;
  const o = typeof r.cgroupOps === 'string' ? undefined : r.cgroupOps;
  const find = (re: RegExp) => o?.ops.find((x) => re.test(x.label));
  const b2bPlain = find(/^`Container\.run\(\['\/bin\/true'\]\)` back to back/);
  const b2bCg = find(/^`Container\.run\(\['\/bin\/true'\], \{ cgroup: \{\} \}\)` back to back/);
  let cost =
    `- **What a cgroup adds to a start.** An accounting-only group (\`cgroup: {}\`) took the median Container.run from ${ms(c)} to ` +
    `${ms(med(a, 'container-cg'))} ms, ${delta(d0)} ms (median of the per-round differences ${delta(pairedDelta(a, 'container-cg', 'container'))} ms); ` +
    `with \`{ memory: '64M', pids: 64 }\` ${delta(d1)} ms (per round ${delta(pairedDelta(a, 'container-cg-limits', 'container'))} ms). ` +
    `Target ≤ +${TARGET.cgroupDeltaMs} ms${bd ? ' (judged on the larger of these and the figures in blocks, below)' : ''}: ${both ? 'met' : '**missed**'} for ${both ? 'both' : [j0 > TARGET.cgroupDeltaMs ? 'cgroup {}' : '', j1 > TARGET.cgroupDeltaMs ? 'the limits row' : ''].filter(Boolean).join(' and ')}` +
    `${both || (j0 > TARGET.cgroupDeltaMs && j1 > TARGET.cgroupDeltaMs) ? '' : ' (met for the other)'}. ` +
    (d1 - d0 < 0.2
      ? `The two limits cost nothing measurable beyond the group (${delta(d1 - d0)} ms between the two rows' medians).`
      : `The two limits add ${delta(d1 - d0)} ms to the group's cost (between the two rows' medians).`);
  const base = row(a, 'container');
  if (base && cg.blockEnds.length > 1 && base.blockEnds.length === cg.blockEnds.length) {
    // In the order run: a warm-up (V8 still compiling the library's code,
    // the caches filling) would show as larger deltas in the first blocks.
    const bm = blockMedians(base);
    const ds = blockMedians(cg).map((x, i) => x - bm[i]!);
    cost += ` Block by block, in the order run (${ds.length} blocks of ${Math.round(r.settings.rounds / ds.length)} rounds), \`cgroup: {}\` added ${ds.map(delta).join(', ')} ms.`;
  }
  cost +=
    ` In these interleaved rows a run's group is removed in the turn of the event loop after its result, so that work lands on ` +
    `whichever row runs next, a row without a group as often as one with.`;
  const blocked = bd;
  if (b2bPlain && b2bCg && blocked) {
    const d = b2bCg.median - b2bPlain.median;
    const lim = blocked.byKey.get('container-cg-limits')!;
    const dl = lim.median - b2bPlain.median;
    cost +=
      ` In a program that starts containers continuously, where each group's removal lands on a run of its own kind ` +
      `(${b2bCg.n} runs of each kind in blocks of one kind, the first runs of each block not counted): without a group, with ` +
      `\`cgroup: {}\` and with the limits the runs took ${ms(b2bPlain.median)}, ${ms(b2bCg.median)} and ${ms(lim.median)} ms at the median: ` +
      `${delta(d)} ms for \`cgroup: {}\` and ${delta(dl)} ms for the limits ` +
      `(≤ +${TARGET.cgroupDeltaMs} ms: ${verdict(d <= TARGET.cgroupDeltaMs)} and ${verdict(dl <= TARGET.cgroupDeltaMs)}; ` +
      `p95 ${ms(b2bPlain.p95)}, ${ms(b2bCg.p95)} and ${ms(lim.p95)} ms).`;
  }
  if (hostNetRows(a)) {
    const dh = med(a, HOST_NET_CG) - med(a, 'container-host-net');
    cost +=
      ` Without a network namespace (\`network: 'host'\`, both sides) the same limits add ${delta(dh)} ms ` +
      `(per round ${delta(pairedDelta(a, HOST_NET_CG, 'container-host-net'))} ms)` +
      (dh < d1 - 0.03
        ? `, less than with one: part of the cost is not the group's own work but where the kernel work done ahead (the next group, ` +
          `the next network namespace) falls against the container's waits for an RCU grace period (docs/cgroup-cost.md, "Where the time falls").`
        : '.');
  }
  const fl = floorOf(r);
  if (fl) {
    const fd = fl.groupMs - fl.noneMs;
    cost +=
      ` For scale, the C floor in this run (bench/cgroup-floor.c: a fresh group in ${fl.where.join(' and ')} made, joined, read and removed around ` +
      `fork + exec of /bin/true, serial, no namespaces) was ${delta(fd)} ms, where issue #3 gives ~${ISSUE_FLOOR_MS} ms: the two rows added ` +
      `${ratio(d0 / fd)} and ${ratio(d1 / fd)} of it (the target is ${ratio(TARGET.cgroupDeltaMs / ISSUE_FLOOR_MS)} of the issue's floor).`;
  }
  out.push(cost);
  if (!o) return out;

  const raw = find(/^`new CGroup\(\{\}\)\.create\(\)` \+/);
  const rawCreate = find(/^↳ `new CGroup\(\{\}\)\.create\(\)`/);
  const rawLim = find(/^`new CGroup\(\{ memory/);
  const first = find(/^the final figures of a fresh group/);
  const traced = r.cgroupTrace?.focus?.medianUs;
  const warmMove = find(/right after another move$/);
  const coldMove = find(/^same, after \d+ ms without a move$/);
  if (raw && first) {
    const where = o.version === 1 ? `one directory in each of ${o.plainDirs.length} v1 hierarchies (${o.plainDirs.map((d) => d.split('/')[4]).join(', ')})` : 'one directory';
    const known = raw.median + first.median + (traced !== undefined ? traced / 1000 : 0);
    const onPath = o.pool && rawCreate ? known - rawCreate.median : known;
    let text =
      `- **Where a cgroup's time goes.** A group is ${where}. The pieces, each timed on its own: mkdir + rmdir there, ` +
      `${ms(raw.median)} ms (\`new CGroup({}).create()\` + \`destroy()\` in a loop${rawLim ? `; ${ms(rawLim.median)} ms with the two limits written` : ''})` +
      (o.pool
        ? `, though a start normally takes a group made ahead of time, right after the previous start (the library's pool, off for that loop), so its mkdirs leave the start's critical path and only its rmdirs stay${o.version === 1 ? ' (but cpuacct\'s: that directory is handed from one group to the next)' : ''}`
        : '') +
      `; the final figures a run reads before removing the group, ${ms(first.median)} ms` +
      (traced !== undefined
        ? `; init's cgroup steps in the child (unshare the cgroup namespace, the read-only /sys/fs/cgroup view: ${viewHow()}), ${ms(traced / 1000)} ms`
        : '') +
      `. Together ${ms(onPath)} ms on the start's path${onPath !== known ? ` (${ms(known)} ms with the mkdirs)` : ''}: ` +
      `${onPath > TARGET.cgroupDeltaMs ? 'already over' : 'just within'} the target, against the ${ms(d0)} ms measured.`;
    if (coldMove && o.version === 1) {
      text +=
        ` The container's own join is not one of the moves timed above: the new process, still single-threaded, writes 0 to ` +
        `\`tasks\` in each hierarchy, which moves the calling thread without the kernel's cgroup_threadgroup_rwsem. Moving a ` +
        `process by pid through cgroup.procs (what \`addProcess()\` does, and what this library's child did before) takes that lock ` +
        `for writing and, unless some process on the host moved tasks a moment ago, waits in rcu_sync_enter → synchronize_rcu: after ` +
        `${coldMove.label.match(/\d+/)?.[0] ?? '?'} ms without a move, ${pct(coldMove.over1ms)} of such moves took over 1 ms ` +
        `(median ${ms(coldMove.median)}, p95 ${ms(coldMove.p95)} ms), against ${pct(warmMove?.over1ms ?? NaN)} right after another. ` +
        `In the interleaved rounds ${pct(slowerShare(a, 'container-cg', 'container', SLOW_JOIN_MS))} of the \`cgroup: {}\` runs were more ` +
        `than ${SLOW_JOIN_MS} ms slower than the same round's run without a cgroup ` +
        `(${pct(slowerShare(a, 'container-cg-limits', 'container', SLOW_JOIN_MS))} with the limits). ` +
        (d0 - onPath > 0.05
          ? `The rest of the median's excess over the pieces above, ${ms(d0 - onPath)} ms, is not attributed by these measurements: it lies ` +
            `outside the loops and the trace (the child's own join, the kernel's work for a process in a fresh group during its setup and exit, ` +
            `handing the group's files to the zygote), or is noise. docs/cgroup-cost.md takes the share apart with experimental ` +
            `builds: most of it goes with the fresh directories (their mkdir, rmdir and the first opens of their files cost about twice as much ` +
            `between container starts as in these loops, and the kernel's workers finish each removal), and a memory group's kernel cost ` +
            `grows with the host's high-water mark of superblocks since boot ("The host's part" there).`
          : 'The pieces above account for the median difference within the noise.');
    } else if (d0 - onPath > 0.05) {
      text += ` The other ${ms(d0 - onPath)} ms is outside what the loops and the trace time (opening the files handed to the child, the kernel's work for a fresh group), plus noise.`;
    }
    out.push(text);
  }

  const st = opByTarget(o, TARGET.statsMs);
  const pr = opByTarget(o, TARGET.pauseResumeMs);
  const parts: string[] = [];
  if (st) {
    parts.push(
      `\`container.stats()\` took ${ms(st.median)} ms at the median (p95 ${ms(st.p95)}; target ≤ ${TARGET.statsMs} ms: ${verdict(st.median <= TARGET.statsMs)}): ` +
        `its files stay open and are re-read with pread.`,
    );
  }
  if (pr) {
    const fp = find(/^first `pause\(\)`/);
    parts.push(
      `\`await pause()\` + \`resume()\` took ${ms(pr.median)} ms (p95 ${ms(pr.p95)}; target ≤ ${TARGET.pauseResumeMs} ms: ${verdict(pr.median <= TARGET.pauseResumeMs)})` +
        (fp && o.version === 1 ? `; a container's first pause also joins the v1 freezer hierarchy, ${ms(fp.median)} ms at the median (p95 ${ms(fp.p95)}).` : '.'),
    );
  }
  if (parts.length) out.push(`- **cgroup operations.** ${parts.join(' ')}`);
  return out;
}

function interpretation(r: BenchResult): string {
  const a = r.baseline;
  const b = r.ballast;
  const c = med(a, 'container');
  const s = med(a, 'spawn');
  const bw = med(a, 'bwrap');
  const out: string[] = [];
  out.push(
    `- **Container.run vs plain spawn.** A median Container.run(['/bin/true']) took ${ms(c)} ms against ${ms(s)} ms for ` +
      `child_process.spawn, ${ratio(c / s)} (target ≤ ${TARGET.spawnRatio}×: ${verdict(c / s <= TARGET.spawnRatio)}). ` +
      `Beyond starting a process it creates six namespaces, runs the mount plan (host root read-only, fresh /proc, /sys, /dev, ` +
      `tmpfs /tmp and /run, masked /proc paths) and pivot_root in the child, starts init as PID 1 and collects stdout and stderr through pipes.`,
  );
  if (Number.isFinite(bw)) {
    out.push(
      `- **vs bubblewrap.** bwrap took ${ms(bw)} ms, so Container.run is at ${ratio(c / bw)} of it (target < 1×: ${verdict(c / bw < 1)}). ` +
        `bwrap is measured the way a Node program would use it: spawn the bwrap binary, which then clones the sandbox; ` +
        `it pays a fork of Node plus an exec of itself, and --unshare-all also creates a user namespace. It mounts less than our default.`,
    );
  } else {
    out.push(`- **vs bubblewrap.** bwrap was ${row(a, 'bwrap')?.variant.unavailable ?? 'not measured'}, so there is no bwrap ratio in this run.`);
  }
  const crun = row(a, 'crun');
  if (crun?.variant.unavailable === undefined && crun) {
    out.push(`- **vs crun.** crun took ${ms(med(a, 'crun'))} ms (${ratio(c / med(a, 'crun'))} for Container.run).`);
  } else {
    out.push(
      `- **crun** was not measured: ${crun?.variant.unavailable ?? 'not installed'}. The bench drives it with a small OCI bundle ` +
        `(bench/variants.ts) and measures it wherever it can run.`,
    );
  }
  const ds = med(b, 'spawn') - s;
  const dc = med(b, 'container') - c;
  const ca = row(a, 'container');
  const cb = row(b, 'container');
  const pairs = ca && cb && ca.latencies.length && cb.latencies.length ? blockDeltas(ca, cb) : undefined;
  const pairText = pairs
    ? ` Block by block (each pair ran back to back) its median moved by ${delta(pairs.median)} ms, ranging ${delta(pairs.min)} … ${delta(pairs.max)} ms: that spread is the noise the target has to be read against.`
    : '';
  out.push(
    `- **Heap ballast.** With ${range(b.heapUsed)} of live heap (RSS ${range(b.rss)}), plain spawn moved by ${delta(ds)} ms at the median ` +
      `(libuv forks Node, copying its page tables; bwrap is spawned the same way and pays it too) and Container.run by ${delta(dc)} ms ` +
      `(target ≤ +${TARGET.ballastDeltaMs} ms: ${verdict(dc <= TARGET.ballastDeltaMs)}). Container.run never forks Node: container inits ` +
      `are forked by a resident zygote, a small static process started once with clone(CLONE_VM|CLONE_VFORK).${pairText} The p99 ` +
      `columns also carry the GC of a big heap (${b.gc.ms.toFixed(0)} ms of pauses in ${b.gc.count} GCs with it, ${a.gc.ms.toFixed(0)} ms in ${a.gc.count} without).`,
  );
  const one = row(a, 'container');
  const two = row(a, 'container-c2');
  if (one && two && one.latencies.length && two.latencies.length) {
    out.push(
      `- **Concurrency.** Two Container.run in flight gave ${ratio(throughput(two) / throughput(one))} the throughput of one ` +
        `(${Math.round(throughput(two))} vs ${Math.round(throughput(one))} runs/s) on ${r.machine.nproc} CPUs that the Node thread, ` +
        `the children and the neighbours share; per-run latency rose from ${ms(summarize(one.latencies).median)} to ${ms(summarize(two.latencies).median)} ms.`,
    );
  }
  if (typeof r.density !== 'string') {
    const [plain, box, grouped] = r.density.rows;
    if (plain && box) {
      const kib = (x: number) => `${x.toFixed(0)} KiB`;
      out.push(
        `- **Density.** With ${r.density.n} held at once, a container (init and its \`sleep\`) cost Node ${kib(box.nodeRssKiB)} of RSS and ` +
          `${box.nodeFds.toFixed(1)} fds, its processes ${kib(box.processesPssKiB)} and the kernel ${kib(box.kernelKiB)} (its namespaces and mounts), ` +
          `against ${kib(plain.nodeRssKiB)}, ${kib(plain.processesPssKiB)} and ${kib(plain.kernelKiB)} for a plain \`sleep\` child` +
          (grouped ? `; with a memory and pids group the kernel held ${kib(grouped.kernelKiB)}, Node ${grouped.nodeFds.toFixed(1)} fds` : '') +
          `. Started all at once they took ${ms(box.startMs)} ms each${grouped ? ` (${ms(grouped.startMs)} with the group)` : ''}, against ${ms(plain.startMs)} for the plain children.`,
      );
    }
  }
  const net = med(a, 'container') - med(a, 'container-host-net');
  const mnt = med(a, 'container-host-net') - med(a, 'container-pid');
  const pid = med(a, 'container-pid') - med(a, 'container-none');
  const filter = row(a, 'container-unconfined')?.latencies.length ? med(a, 'container') - med(a, 'container-unconfined') : undefined;
  out.push(
    `- **Breakdown.** Dropping the net namespace (network: 'host') saves ${ms(net)} ms; dropping mnt, uts, ipc and cgroup as well ` +
      `(namespaces: ['pid']: no mounts at all) saves another ${ms(mnt)} ms; the pid namespace itself costs ${Math.abs(pid) < 0.1 ? `nothing measurable (${delta(pid)} ms)` : `${ms(pid)} ms`}. ` +
      `With no namespaces, Container.run is at ${ratio(med(a, 'container-none') / s)} of plain spawn (the fixed price of the addon, ` +
      `the zygote's fork of init, init as a reaper and the output pipes), ${med(a, 'container-none') < s ? 'faster than a spawn, which forks Node' : 'about a spawn'}.` +
      (filter !== undefined
        ? ` The seccomp filter (user namespaces, keyrings, leases, netlink, io_uring; init loads it once per container; every syscall inside then runs it) costs ${delta(filter)} ms ` +
          `(the default row against \`seccomp: 'unconfined'\`; per round ${delta(pairedDelta(a, 'container', 'container-unconfined'))} ms).`
        : '') +
      (row(a, 'container-profile')?.latencies.length
        ? ` A Docker-shaped seccomp profile on top of it adds ${delta(med(a, 'container-profile') - med(a, 'container'))} ms ` +
          `(per round ${delta(pairedDelta(a, 'container-profile', 'container'))} ms): init's child installs it before the exec, and every syscall of the payload runs it.`
        : '') +
      (r.trace
        ? ` Inside init, the traced setup steps take ${ms(r.trace.setupMedianUs / 1000)} ms of a ${ms(r.trace.runMedianMs)} ms run, ` +
          `the largest being ${r.trace.slowest[0]?.label.replace(/^step \d+: /, '') ?? '?'} (${Math.round(r.trace.slowest[0]?.medianUs ?? NaN)} µs median); ` +
          `the rest of what the mount namespace costs is outside them (creating and tearing down the namespace in the kernel, the larger plan).`
        : ''),
  );
  out.push(...cgroupInterpretation(r));
  if (typeof r.long !== 'string') {
    const l = r.long;
    out.push(
      `- **Long run.** ${l.count} sequential runs (after ${l.warmup} warm-up runs, until V8's young generation had stopped growing): ` +
        `heapUsed ${mib(l.start.heapUsed)} → ${mib(l.end.heapUsed)}, RSS ${mib(l.start.rss)} → ` +
        `${mib(l.end.rss)}, open fds ${l.start.fds} → ${l.end.fds}, live children ${l.start.children} → ${l.end.children} (the addon's zygote is one` +
        (l.start.zygoteRss !== undefined && l.end.zygoteRss !== undefined ? `; its RSS ${mib(l.start.zygoteRss)} → ${mib(l.end.zygoteRss)}, fds ${l.start.zygoteFds} → ${l.end.zygoteFds}` : '') +
        `) ` +
        `(flat within ${TARGET.longDrift * 100}%: ${verdict(longFlat(l))}); median latency ${ms(l.firstTenth.median)} ms in the first tenth, ` +
        `${ms(l.lastTenth.median)} ms in the last. What heapUsed gains over such a run is V8's: a heap snapshot diff of 2000 vs ` +
        `12000 runs, taken by hand when this bench was written, grew only in compiled code and deopt data, with no library objects.`,
    );
  }
  out.push(
    `- **Noise.** A shared, noisy ${r.machine.nproc}-CPU VM (load average ${r.machine.loadStart.map((x) => x.toFixed(2)).join(' ')} at the start, ` +
      `${r.machine.loadEnd.map((x) => x.toFixed(2)).join(' ')} at the end). Absolute numbers move between runs by tens of percent; ` +
      `the ratios, taken from interleaved rounds of the same run, move much less. p99 mostly shows the neighbours and GC.`,
  );
  return out.join('\n');
}

/** The whole docs/benchmarks.md. */
export function documentMarkdown(r: BenchResult): string {
  const m = r.machine;
  const st = r.settings;
  return `# Benchmarks

How fast \`Container.run\` starts a sandboxed process, next to a plain \`child_process.spawn\` and
bubblewrap, measured by \`npm run bench\` (\`bench/run.ts\`). This page is written by that command;
the numbers below are from one run on ${m.date}.

> These numbers come from a **shared, noisy virtual machine**. Read the ratios, which are measured in
> the same run with interleaved rounds, rather than the absolute milliseconds. The test suite never
> asserts timing; speed is only ever measured here.

## Machine

| | |
|---|---|
| CPUs (\`nproc\`) | ${m.nproc} × ${m.cpu} |
| memory | ${m.memory} |
| kernel (\`uname -r\`) | ${m.kernel} |
| Node.js | ${m.node} |
| cgroups | ${m.cgroups} |
| user | ${m.uid === 0 ? 'root' : `uid ${m.uid}`} |
| bubblewrap | ${m.bwrap} |
| crun | ${m.crun} |
| isolate-kit | ${m.commit} |
| date | ${m.date} |
| load average (1, 5, 15 min) | start ${m.loadStart.map((x) => x.toFixed(2)).join(', ')}; end ${m.loadEnd.map((x) => x.toFixed(2)).join(', ')} |

## What is measured, and how

Every row starts \`/bin/true\` and waits for it to end; the latency is from the call to completion:

- **child_process.spawn**: \`spawn('/bin/true', [], { stdio: 'ignore' })\`, resolved on \`'close'\`.
- **Container.run (default)**: \`Container.run(['/bin/true'])\`, resolved with its RunResult (status must be
  \`'ok'\`): pid, mnt, uts, ipc, net and cgroup namespaces, the host root read-only with fresh /proc, /sys and
  /dev and private /tmp, init (forked by the addon's resident zygote) as PID 1, stdout and stderr collected through pipes,
  and the seccomp filter against user namespaces, keyrings, file leases, netlink protocols but ROUTE (and more than 16 of those) and io_uring, which init installs and answers for (docs/security.md).
- **bwrap**: \`bwrap ${'--unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true'}\` through \`child_process.spawn\`,
  when \`bwrap\` is on PATH and works.
- **crun**: \`crun --cgroup-manager=disabled run\` of a throw-away OCI bundle (/proc, tmpfs /dev and /tmp, the same
  six namespaces, no capabilities, no cgroup, like Container.run without the \`cgroup\` option), when crun is installed
  and works here. crun cannot take \`/\` itself as the root (pivot_root: EBUSY), so the bundle's root is an empty directory
  with every top-level host entry bind-mounted into it read-only: about twenty binds where bwrap and
  Container.run do one.
- **Container.run, cgroup {}** and **Container.run, cgroup {memory 64M, pids 64}**: the default Container.run with
  \`{ cgroup: {} }\` (an accounting-only group: on cgroup v1 a directory in the memory, cpuacct and pids hierarchies)
  and with \`{ cgroup: { memory: '64M', pids: 64 } }\` (the same directories plus the two limits' writes; the OOM
  notification is armed only for an \`oom\` listener, and these rows have none). Each run makes its group, the child joins it before it runs anything, the run reads the group's
  final figures before resolving and removes it in the next turn of the event loop (that removal lands in the next row's run). What a group adds is each row's median minus the no-cgroup row's.
- **Container.run with fewer namespaces**: \`network: 'host'\` (no net namespace), \`namespaces: ['pid']\` (no mount
  plan at all) and \`namespaces: []\`, to show what each part costs; and \`network: 'host'\` with the same limits
  as the cgroup row, to show what the group costs where no network namespace is made ahead for the next start;
  and \`seccomp: 'unconfined'\` (no filter), to show what the filter costs; and a seccomp profile shaped as Docker's
  default (an allowlist of every x86_64 syscall but the fifteen Docker guards, clone by its flags, clone3 as ENOSYS),
  compiled once and installed by init in the process before its exec, on top of the filter, to show what a profile costs.
- **2 in flight**: each round starts two runs together and waits for both; per-run latency is each run's own,
  throughput is runs divided by the time the batches took.

Method: one warm Node process. The rows are **interleaved**: every round runs each available row once (a batch),
in a freshly shuffled order (seed ${st.seed}), so noise from the neighbours hits all rows alike. runs/s is runs
divided by the summed time of the batches. "× spawn" and "× bwrap" are ratios of medians within the same table;
the targets table also gives the median of the per-round ratios (each round's pair saw the same noise).
Everything runs under two conditions: as is, and while the process holds a **${st.ballastMiB} MiB heap ballast**
(about ${Math.round((st.ballastMiB * 1024 * 1024) / 1100 / 1000)}k live objects of ~1 KiB). The two alternate in ${st.blocks} blocks each (A B B A A B …),
so a slow drift of the machine falls on both; the ballast is allocated and dropped once before the first block,
so that the no-ballast blocks all start from the same process. ${st.rounds} rounds are measured per condition,
after ${st.warmup} warm-up rounds in the first block and ${st.blockWarmup} in each later one.
The long run is a separate \`node --expose-gc\` child doing ${st.long} sequential
Container.run(['/bin/true']). V8 grows its young generation from 2 to 32 MiB as the allocation rate demands,
over the first ~2000 runs here: RSS that is V8 sizing itself, not a leak. So that child runs with
\`${LONG_NODE_FLAGS.join(' ')}\` and warms up for at least ${st.longWarmup} runs, and then until the young generation
has kept its size for a while. Then, at the start, every tenth and at the end, after a full GC,
it reads heapUsed, heapTotal and RSS, the entries of /proc/self/fd, its threads and live children, and the RSS
and open fds of the addon's resident zygote. heapUsed, RSS, fds and the zygote's RSS and fds are to stay within
10% from start to end.

Run it: \`npm run bench\` (full, writes this page), \`npm run bench -- --quick\` (smoke run, prints only),
\`npm run bench -- --long 2000\` (or \`BENCH_LONG=2000\`), \`--rounds N\`, \`--seed N\`, \`--out FILE\`, \`--no-write\`.

## Results

### Start latency, no ballast

${phaseNote(r.baseline)}

${phaseTable(r.baseline)}

### Same rows with a ${st.ballastMiB} MiB heap ballast

${phaseNote(r.ballast)}

${phaseTable(r.ballast)}

### Without vs with the ballast

${ballastTable(r.baseline, r.ballast)}

### Ratios and targets

${targetTable(r)}

### What a cgroup adds to Container.run (no ballast)

Each cgroup row against \`Container.run (default)\`, which has none: the difference of the medians (judged), the
median of the per-round differences (each round ran both, so they saw the same neighbours), the difference of the p90s,
and the difference of the medians in the ${st.ballastMiB} MiB ballast condition.

${cgroupCostTable(r)}

${floorNote(r)}

### Layered roots and images

\`Container.run, 3-layer overlay root\` in the tables above starts \`/bin/true\` (a static busybox applet) in a root of
three layer directories (busybox; two layers of a few files) under a 64 MiB tmpfs writable layer, overlayfs
mounted with one \`fsconfig("lowerdir+")\` per layer; its target is against \`Container.run (default)\` (the host
root). Then a layer of ${typeof r.imageIo === 'string' ? 'about 200 MiB' : `${(r.imageIo.layerBytes / (1 << 20)).toFixed(0)} MiB (${r.imageIo.files} files of random bytes)`}
through a fresh \`ImageStore\` per run: import of its tar file (read once: unpacked, kept as a blob, sha256 of the
tar), export (the blob written out as a tar), and packing the directory into a layer tar. MB/s are 10^6 bytes of
the tar per second.

${imageIoTable(r.imageIo)}

### cgroup operations

Measured after the rounds above, one operation at a time (not interleaved). On one running container made with
\`cgroup: {}\` and a \`sleep 100\` inside: \`container.stats()\` ${st.cgroupStats} times and \`await pause(); resume()\`
${st.cgroupPause} times, after a tenth as many warm-up calls (the first pause of a container is left out of those:
${cgroupFirstPauseNote(r)}). Then ${st.cgroupCreate} iterations (after ${Math.max(10, Math.round(st.cgroupCreate / 10))} warm-up ones) of
\`new CGroup({}).create()\` + \`await destroy()\`, the same with \`{ memory: '64M', pids: 64 }\`, and the final figures a run
reads from a fresh group, interleaved, with the library's pool of ready groups turned off: the raw cost of a group's directories. Last, what moving a process costs in the kernel:
a \`sleep\` moved between two groups with \`addProcess()\` (a write of its pid to cgroup.procs in every hierarchy; a
container's own process joins through \`tasks\` instead, see below), ${st.cgroupMoves} times right after another move and ${st.cgroupMoves} times after ${COLD_MOVE_GAP_MS} ms without one;
and ${st.cgroupBackToBack} runs each of \`Container.run(['/bin/true'])\` without a group, with \`cgroup: {}\` and with the two limits, in
blocks of 20 runs of one kind (the kinds taking turns; the first two runs of each block not counted), for a program that starts containers
continuously: a run's group is removed in the turn of the event loop after its result, and there that work lands on a run of its own kind
(in the interleaved table, on whichever row runs next).

${typeof r.cgroupOps === 'string' ? r.cgroupOps : cgroupOpsTable(r.cgroupOps)}
${
  r.cgroupTrace?.focus
    ? `
The container's side, from ${r.cgroupTrace.runs} traced runs of \`Container.run(['/bin/true'], { cgroup: {} })\`, one after
the other: init's cgroup steps. ${
      r.cgroupTrace.focus.steps.some((x) => /join/.test(x.label))
        ? 'The join (a write to cgroup.procs in each hierarchy) is made by the zygote while init runs its other steps; "join the cgroup" is init waiting for it.'
        : 'The join itself (the new process writes 0 to each hierarchy\'s `tasks` on v1, before anything else; on v2 it is cloned into its group) is not traced.'
    }

${cgroupTraceTable(r.cgroupTrace)}
`
    : ''
}
${leftoverNote(r)}

### Concurrency (no ballast)

${concurrencyTable(r.baseline)}

### Density: many held at once

${typeof r.density === 'string' ? '' : `${r.density.n}`} of each started at once with \`Promise.all\`, each running \`sleep\`, then all ended at once: plain
\`child_process.spawn\` children, containers (init and the \`sleep\`), and containers with a group. Per unit: the
wall time to start them all and to end them all, divided by their number; what the Node process holds more (RSS
and V8 heap after a full GC; open fds: a container's pipes, pidfd, init's control socket and netlink set, and its group's files);
the processes' own memory (proportional set size: shared pages divided among their users); and the kernel's own
memory (slab, page tables, kernel stacks and per-CPU areas from /proc/meminfo, machine-wide, so noisy): a
container's namespaces, mounts and groups live there. It runs in a child \`node --expose-gc\` of its own, so the
bench's heap is not counted, and one of each kind is started and ended first, so what is made once (the zygote,
the pools) is not either.

${densityTable(r.density)}

### Where the time goes (no ballast)

"payload exec→exit" is RunResult.wallTimeMs (from the exec of /bin/true to its exit); the rest is setting the
sandbox up before it and tearing it down and reporting after it.

${breakdownTable(r.baseline)}
${
  r.trace
    ? `
Inside init, with \`ISOLATE_KIT_TRACE=1\` (init times each container setup step and writes it to the container's
stderr), ${r.trace.runs} separate runs: the setup steps take ${ms(r.trace.setupMedianUs / 1000)} ms of a
${ms(r.trace.runMedianMs)} ms run at the median.

${traceTables(r.trace)}
`
    : ''
}
### Long run

${typeof r.long === 'string' ? r.long : longTables(r.long)}

## Interpretation

${interpretation(r)}
`;
}

/** How init makes the /sys/fs/cgroup view on this host (see planCgroupfs). */
function viewHow(): string {
  const m = readCgroupMounts();
  if (m.layout === 'v2') return 'one cgroup2 mount';
  return m.v1Root !== undefined ? `a bind of the host's ${m.v1Root} tmpfs alone and one of the group's directory per hierarchy it shows` : 'a tmpfs and one cgroup mount per hierarchy it shows';
}
