/**
 * Density: what many sandboxes held at once cost, side by side with as many
 * plain child processes. N of each kind are started at once, each running
 * `sleep` (so every row holds one payload process per unit), then measured,
 * then all ended at once:
 *   child_process.spawn   N `sleep` children of Node
 *   Container             N containers (init + `sleep`), no group
 *   Container + group     the same with { memory: '64M', pids: 64 }
 * Per unit: the wall time to start all and to end all; what the Node process
 * holds (RSS and V8 heap after a full GC, open fds); the processes' own memory
 * (proportional set size, so shared libraries count once in all); and the
 * kernel's own memory (slab, page tables, kernel stacks, per-CPU areas, from
 * /proc/meminfo): a container's namespaces, mounts and groups live there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Container, type ContainerProcess } from '../lib';
import { fullGc } from './ballast';
import { CGROUP_LIMITS } from './cgroup-ops';
import { childReport, reportFromChild } from './child';

export interface DensityRow {
  label: string;
  /** Units started (all of them, or the row says why not in `failed`). */
  n: number;
  startMs: number;
  stopMs: number;
  /** Per unit. */
  nodeRssKiB: number;
  nodeHeapKiB: number;
  nodeFds: number;
  processesPssKiB: number;
  processes: number;
  kernelKiB: number;
  failed?: string;
}

/** Many spinners at once, each under a `cpuTime` budget: how far past it each was ended, and how late Node's timers ran. */
export interface BudgetReport {
  n: number;
  budgetMs: number;
  /** CPU time each used (cpuTimeMs), sorted. */
  usedMs: number[];
  /** Runs that ended with limit 'cpuTime'. */
  ended: number;
  /** Lateness of a 10 ms interval timer in the Node process meanwhile: median and max, ms. */
  lagMs: [number, number];
}

export interface DensityReport {
  n: number;
  rows: DensityRow[];
  budget?: BudgetReport;
}

const SLEEP = ['sleep', '1000'];

/** Slab + page tables + kernel stacks + per-CPU areas, in KiB. */
function kernelKiB(): number {
  const m = new Map<string, number>();
  for (const line of readFileSync('/proc/meminfo', 'utf8').split('\n')) {
    const [k, v] = line.split(':');
    if (k && v) m.set(k, Number.parseInt(v, 10));
  }
  return ['Slab', 'PageTables', 'KernelStack', 'Percpu'].reduce((s, k) => s + (m.get(k) ?? 0), 0);
}

/** Every descendant of this process, by pid. */
function descendants(): Set<number> {
  const out = new Set<number>();
  const walk = (pid: number) => {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let kids = '';
      try {
        kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.trim().split(/\s+/).filter(Boolean).map(Number)) {
        if (!out.has(k)) {
          out.add(k);
          walk(k);
        }
      }
    }
  };
  walk(process.pid);
  return out;
}

function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const fds = () => readdirSync('/proc/self/fd').length;
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

interface Unit {
  stop(): Promise<void>;
}

function spawned(p: ChildProcess | ContainerProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    p.once('spawn', () => resolve());
    p.once('error', reject);
  });
}

async function plainChild(): Promise<Unit> {
  const p = spawn(SLEEP[0]!, SLEEP.slice(1), { stdio: 'ignore' });
  await spawned(p);
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  return {
    stop: async () => {
      p.kill('SIGKILL');
      await exited;
    },
  };
}

async function container(cgroup: boolean): Promise<Unit> {
  const c = new Container(cgroup ? { cgroup: CGROUP_LIMITS } : {});
  try {
    await spawned(c.spawn(SLEEP, { stdio: 'ignore' }));
  } catch (e) {
    await c.destroy();
    throw e;
  }
  return { stop: () => c.destroy() };
}

async function row(label: string, n: number, make: () => Promise<Unit>): Promise<DensityRow> {
  // One of the kind first, so that what is made once (the zygote, the pools) is not counted.
  await (await make()).stop();
  await settle();
  fullGc();
  const before = { mem: process.memoryUsage(), fds: fds(), kernel: kernelKiB(), pids: descendants() };
  const t0 = performance.now();
  const made = await Promise.allSettled(Array.from({ length: n }, make));
  const startMs = performance.now() - t0;
  const units = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
  const failure = made.find((m): m is PromiseRejectedResult => m.status === 'rejected');
  await settle();
  fullGc();
  const mem = process.memoryUsage();
  const fresh = [...descendants()].filter((p) => !before.pids.has(p));
  const after = { fds: fds(), kernel: kernelKiB(), pss: fresh.reduce((s, p) => s + pssKiB(p), 0) };
  const t1 = performance.now();
  await Promise.all(units.map((u) => u.stop()));
  const stopMs = performance.now() - t1;
  const k = Math.max(1, units.length);
  const r: DensityRow = {
    label,
    n: units.length,
    startMs: startMs / k,
    stopMs: stopMs / k,
    nodeRssKiB: (mem.rss - before.mem.rss) / 1024 / k,
    nodeHeapKiB: (mem.heapUsed - before.mem.heapUsed) / 1024 / k,
    nodeFds: (after.fds - before.fds) / k,
    processesPssKiB: after.pss / k,
    processes: fresh.length / k,
    kernelKiB: (after.kernel - before.kernel) / k,
  };
  if (failure) r.failed = `${n - units.length} of ${n} failed to start: ${String(failure.reason?.message ?? failure.reason)}`;
  return r;
}

/**
 * `n` shell spinners at once, each `Container.run` with `cpuTime: budgetMs`
 * (and a pids group): the CPU time each had used when it was ended. A
 * budget is watched by Node's timers, so it holds only as well as Node gets
 * the CPU among the spinners.
 */
async function budgets(n: number, budgetMs: number): Promise<BudgetReport> {
  const lags: number[] = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 10));
    last = now;
  }, 10);
  try {
    const runs = await Promise.all(
      Array.from({ length: n }, () => Container.run(['sh', '-c', 'while :; do :; done'], { cgroup: { pids: 16 }, cpuTime: budgetMs, timeout: '120s' })),
    );
    const sorted = [...lags].sort((a, b) => a - b);
    return {
      n,
      budgetMs,
      usedMs: runs.map((r) => r.cpuTimeMs ?? NaN).sort((a, b) => a - b),
      ended: runs.filter((r) => r.limit === 'cpuTime').length,
      lagMs: [sorted[sorted.length >> 1] ?? NaN, sorted[sorted.length - 1] ?? NaN],
    };
  } finally {
    clearInterval(tick);
  }
}

/** `containers`, `cgroups`: whether those rows can run here (else the reason). */
async function density(n: number, containers: string | undefined, cgroups: string | undefined, log: (msg: string) => void): Promise<DensityReport> {
  const rows: DensityRow[] = [];
  log(`density: ${n} plain children at once`);
  rows.push(await row('child_process.spawn', n, plainChild));
  if (containers === undefined) {
    log(`density: ${n} containers at once`);
    rows.push(await row('Container', n, () => container(false)));
  }
  if (cgroups === undefined) {
    log(`density: ${n} containers with a group at once`);
    rows.push(await row("Container, cgroup { memory: '64M', pids: 64 }", n, () => container(true)));
  }
  const report: DensityReport = { n, rows };
  if (cgroups === undefined) {
    const spinners = Math.max(10, Math.round(n / 2));
    log(`density: ${spinners} spinners at once, each with cpuTime 200 ms`);
    report.budget = await budgets(spinners, 200);
  }
  return report;
}

/**
 * density() in a child `node --expose-gc`, so that the bench's own heap
 * (its ballast, V8's grown young generation) does not blur Node's share;
 * `containers`, `cgroups`: whether those rows can run here (else the reason).
 */
export function measureDensity(n: number, containers: string | undefined, cgroups: string | undefined, log: (msg: string) => void): Promise<DensityReport> {
  log(`density: ${n} of each at once, in a child node`);
  return childReport<DensityReport>('density', ['--expose-gc'], __filename, [String(n), containers === undefined ? 'yes' : 'no', cgroups === undefined ? 'yes' : 'no']);
}

if (require.main === module) {
  const [n, containers, cgroups] = process.argv.slice(2);
  const log = (msg: string) => process.stderr.write(`  ${msg}\n`);
  reportFromChild(density(Number(n ?? 200), containers === 'yes' ? undefined : 'not here', cgroups === 'yes' ? undefined : 'not here', log));
}
