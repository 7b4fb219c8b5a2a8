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

export interface DensityReport {
  n: number;
  rows: DensityRow[];
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

/** `containers`, `cgroups`: whether those rows can run here (else the reason). */
export async function measureDensity(n: number, containers: string | undefined, cgroups: string | undefined, log: (msg: string) => void): Promise<DensityReport> {
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
  return { n, rows };
}
