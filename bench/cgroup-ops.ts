/**
 * cgroup operations, outside the interleaved start-latency rounds: on one
 * running container with a cgroup (a `sleep` inside), stats() and
 * pause()+resume() many times; the first pause() of fresh containers (on v1
 * it joins the freezer hierarchy); and the raw cost of a group's directories,
 * new CGroup().create() + destroy() in a loop, which is most of what a
 * cgroup adds to a Container.run.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CGroup, Container, type CGroupLimits, type ContainerProcess } from '../lib';
import { measureCgroupFloor, type FloorReport } from './cgroup-floor';
import { percentile } from './stats';

/** The limits of the "with limits" rows, here and in the interleaved table. */
export const CGROUP_LIMITS: CGroupLimits = { memory: '64M', pids: 64 };

export interface OpSummary {
  /** Row label. */
  label: string;
  n: number;
  median: number;
  p95: number;
  /** Share of the samples over 1 ms (0..1); NaN where it says nothing (whole container runs). */
  over1ms: number;
  /** ms; judged against the median. */
  target?: number;
}

export interface CgroupOpsReport {
  /** 1 or 2. */
  version: 1 | 2;
  /** The directories a group made with {} has (one per hierarchy on v1), parent shown. */
  plainDirs: string[];
  /** Same for the limits group. */
  limitsDirs: string[];
  ops: OpSummary[];
  /** Whether the library keeps a pool of groups made ahead of time (lib/cgroup/pool.ts), which the raw loops turn off. */
  pool: boolean;
  /** The C floor of a group's cost in this run (cgroup-floor.ts), or why it was not measured. */
  floor: FloorReport | string;
}

export interface CgroupOpsSettings {
  statsIterations: number;
  pauseIterations: number;
  createIterations: number;
  /** Fresh containers whose first pause() is timed. */
  firstPauses: number;
  /** Moves of a process between two groups, back to back and after an idle pause. */
  moves: number;
  /** Runs of Container.run of each kind (no group, cgroup {}, limits) in blocks of one kind (backToBack()). */
  backToBack: number;
}

/** Idle time before a "cold" move: longer than an RCU grace period here. */
export const COLD_MOVE_GAP_MS = 50;

export const TARGET_STATS_MS = 0.2;
export const TARGET_PAUSE_RESUME_MS = 1;

function summary(label: string, samples: number[], target?: number): OpSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const over = sorted.filter((x) => x > 1).length;
  const s: OpSummary = { label, n: sorted.length, median: percentile(sorted, 50), p95: percentile(sorted, 95), over1ms: sorted.length ? over / sorted.length : NaN };
  if (target !== undefined) s.target = target;
  return s;
}

/** Resolves once the process runs (its 'spawn'), rejects on its 'error'. */
function started(p: ContainerProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    if (p.spawned) return resolve();
    p.once('spawn', () => resolve());
    p.once('error', reject);
  });
}

/** A started container with a cgroup and a `sleep 100` inside. */
async function sleeper(): Promise<Container> {
  const c = new Container({ cgroup: {} });
  try {
    await c.start();
    await started(c.exec(['sleep', '100'], { stdio: 'ignore' }));
  } catch (err) {
    await c.destroy();
    throw err;
  }
  return c;
}

/** "/sys/fs/cgroup/memory/isolate-kit/123-…" → "memory". */
function hierarchy(dir: string): string {
  const parts = dir.split('/');
  const i = parts.indexOf('isolate-kit');
  return i > 0 ? parts.slice(4, i).join('/') || 'unified' : dir;
}

/** The library's pool of groups made ahead of time, if it has one (internal; looked up at run time). */
type PoolModule = { pooledCgroupDirs?: () => string[]; poolEnabled?: () => boolean; _setPoolEnabled?: (on: boolean | undefined) => void };

function poolModule(): PoolModule | undefined {
  try {
    return require('../lib/cgroup/pool') as PoolModule;
  } catch {
    return undefined;
  }
}

/** Directories of pooled groups: ours, made ahead of time for the next start, removed at exit. */
export function pooledGroups(): string[] {
  return poolModule()?.pooledCgroupDirs?.() ?? [];
}

/** Runs `f` with the library's group pool off, so it measures mkdir and rmdir themselves. */
async function withoutPool<T>(f: () => Promise<T>): Promise<T> {
  const set = poolModule()?._setPoolEnabled;
  const saved = process.env.ISOLATE_KIT_CGROUP_POOL;
  // (The library reads the variable once; older versions at every start.)
  set?.(false);
  process.env.ISOLATE_KIT_CGROUP_POOL = '0';
  try {
    return await f();
  } finally {
    set?.(undefined);
    if (saved === undefined) delete process.env.ISOLATE_KIT_CGROUP_POOL;
    else process.env.ISOLATE_KIT_CGROUP_POOL = saved;
  }
}

/**
 * Our groups still present under any isolate-kit parent (v1 hierarchies and
 * v2), not counting the pool's: what the bench would leave behind. Waits a
 * moment first, so a pool refill under way has finished.
 */
export async function leftoverGroups(): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 200));
  const pooled = new Set(pooledGroups());
  const out: string[] = [];
  const prefix = `${process.pid}-`;
  const roots = ['/sys/fs/cgroup/isolate-kit'];
  try {
    for (const h of readdirSync('/sys/fs/cgroup')) roots.push(join('/sys/fs/cgroup', h, 'isolate-kit'));
  } catch {
    /* no cgroupfs */
  }
  for (const r of roots) {
    try {
      // NAME.owner is the process's mark (a file, lib/cgroup/owner.ts), not a group: it goes when the process exits.
      for (const e of readdirSync(r)) if (e.startsWith(prefix) && !e.endsWith('.owner') && !pooled.has(join(r, e))) out.push(join(r, e));
    } catch {
      /* not there */
    }
  }
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

export async function measureCgroupOps(s: CgroupOpsSettings, progress: (msg: string) => void): Promise<CgroupOpsReport> {
  const ops: OpSummary[] = [];
  const version = CGroup.version() === 2 ? 2 : 1;

  // stats() and pause()+resume() on one running container.
  const c = await sleeper();
  try {
    const statsWarm = Math.max(20, Math.round(s.statsIterations / 10));
    const st: number[] = [];
    progress(`cgroup ops: stats() ${statsWarm} + ${s.statsIterations}`);
    for (let i = 0; i < statsWarm + s.statsIterations; i++) {
      if (i % 100 === 0) await tick(); // let the loop breathe (timers, GC) between batches, never inside a timing
      const t0 = performance.now();
      c.stats();
      const t1 = performance.now();
      if (i >= statsWarm) st.push(t1 - t0);
    }
    ops.push(summary('`container.stats()`', st, TARGET_STATS_MS));

    const pauseWarm = Math.max(5, Math.round(s.pauseIterations / 10));
    const both: number[] = [];
    const pause: number[] = [];
    const resume: number[] = [];
    progress(`cgroup ops: pause()+resume() ${pauseWarm} + ${s.pauseIterations}`);
    for (let i = 0; i < pauseWarm + s.pauseIterations; i++) {
      await tick();
      const t0 = performance.now();
      await c.pause();
      const t1 = performance.now();
      c.resume();
      const t2 = performance.now();
      if (i === 0 && !(c.cgroup?.frozen === false && c.state === 'running')) throw new Error(`resume() left the container ${c.state}`);
      if (i >= pauseWarm) {
        both.push(t2 - t0);
        pause.push(t1 - t0);
        resume.push(t2 - t1);
      }
    }
    ops.push(summary('`await container.pause(); container.resume()`', both, TARGET_PAUSE_RESUME_MS));
    ops.push(summary('↳ `pause()` (freeze, until frozen)', pause));
    ops.push(summary('↳ `resume()` (thaw)', resume));
  } finally {
    await c.destroy();
  }

  // The first pause() of a container: on v1 it makes the group's freezer directory and moves every process in.
  const first: number[] = [];
  progress(`cgroup ops: first pause()+resume() of ${s.firstPauses} fresh containers`);
  for (let i = 0; i < s.firstPauses; i++) {
    const f = await sleeper();
    try {
      const t0 = performance.now();
      await f.pause();
      f.resume();
      first.push(performance.now() - t0);
    } finally {
      await f.destroy();
    }
  }
  ops.push(summary(`first \`pause()\`+\`resume()\` of a container${version === 1 ? ' (joins the v1 freezer: mkdir + moving its processes)' : ''}`, first));

  // Raw group cost, interleaved per iteration so noise falls on all alike.
  const createWarm = Math.max(10, Math.round(s.createIterations / 10));
  const plain = { create: [] as number[], destroy: [] as number[], both: [] as number[] };
  const limited = { create: [] as number[], destroy: [] as number[], both: [] as number[] };
  const firstStats: number[] = [];
  let plainDirs: string[] = [];
  let limitsDirs: string[] = [];
  const pool = poolModule()?.poolEnabled?.() ?? false;
  progress(`cgroup ops: CGroup create()+destroy() ${createWarm} + ${s.createIterations}${pool ? ' (group pool off)' : ''}`);
  await withoutPool(async () => {
    for (let i = 0; i < createWarm + s.createIterations; i++) {
      if (i % 50 === 0) await tick();
      const keep = i >= createWarm;
      for (const [limits, into] of [
        [{}, plain],
        [CGROUP_LIMITS, limited],
      ] as const) {
        const t0 = performance.now();
        const g = new CGroup(limits).create();
        const t1 = performance.now();
        if (i === 0) (into === plain ? (plainDirs = g.paths) : (limitsDirs = g.paths));
        await g.destroy();
        const t2 = performance.now();
        if (keep) {
          into.create.push(t1 - t0);
          into.destroy.push(t2 - t1);
          into.both.push(t2 - t0);
        }
      }
      // What a run reads once at its end, before removing its group (the first read of a fresh group opens the files).
      const g = new CGroup({}).create();
      try {
        // (_finalFigures since the end reads once and parses on demand; _finalStats before.)
        const internals = g as unknown as { _finalFigures?: () => unknown; _finalStats?: () => unknown };
        const final = internals._finalFigures ?? internals._finalStats;
        const t0 = performance.now();
        if (final) final.call(g);
        else g.stats();
        const t1 = performance.now();
        if (keep) firstStats.push(t1 - t0);
      } finally {
        await g.destroy();
      }
    }
  });
  const where = (dirs: string[]) => (version === 2 ? 'one directory' : dirs.map(hierarchy).join(', '));
  const off = pool ? ', group pool off' : '';
  ops.push(summary(`\`new CGroup({}).create()\` + \`await destroy()\`: mkdir + rmdir in ${where(plainDirs)}${off}`, plain.both));
  ops.push(summary('↳ `new CGroup({}).create()`', plain.create));
  ops.push(summary('↳ `await destroy()`', plain.destroy));
  ops.push(summary(`\`new CGroup({ memory: '64M', pids: 64 }).create()\` + \`await destroy()\` (${where(limitsDirs)}, the two limits' writes${off})`, limited.both));
  ops.push(summary('↳ `create()`', limited.create));
  ops.push(summary('↳ `await destroy()`', limited.destroy));
  ops.push(summary("the final figures of a fresh group, as a run reads them before removing its group (first read: opens the files)", firstStats));

  ops.push(...(await moves(s.moves, progress)));
  ops.push(...(await backToBack(s.backToBack, progress)));

  progress(`cgroup ops: the C floor, ${s.createIterations} rounds`);
  const floor = await measureCgroupFloor(s.createIterations, Math.max(20, Math.round(s.createIterations / 20)));

  return { version, plainDirs, limitsDirs, ops, pool, floor };
}

/** Runs of one kind in a row, and the first ones of each block not counted (BLOCK_SKIP says why). */
const BLOCK = 20;
/**
 * A run's group is removed in the turn of the event loop after its result,
 * so that work lands on the run after it: the first of a block carries the
 * last block's kind's removal. Two, for good measure.
 */
const BLOCK_SKIP = 2;

/**
 * Container.run without a group, with `cgroup: {}` and with the memory and
 * pids limits, each in blocks of runs of one kind, with nothing else in
 * between: a program starting containers continuously. Each group's
 * removal (in the next turn of the event loop) then lands on a run of its
 * own kind, as it would in such a program, where in the interleaved rows
 * it lands on whichever row runs next.
 */
async function backToBack(n: number, progress: (msg: string) => void): Promise<OpSummary[]> {
  const kinds: { options: { cgroup?: CGroupLimits }; into: number[] }[] = [
    { options: {}, into: [] },
    { options: { cgroup: {} }, into: [] },
    { options: { cgroup: { memory: '64M', pids: 64 } }, into: [] },
  ];
  const warm = Math.max(5, Math.round(n / 10));
  progress(`cgroup ops: ${warm} + ${n} runs each without a group, with cgroup {} and with limits, in blocks of ${BLOCK}`);
  const one = async (options: { cgroup?: CGroupLimits }, into: number[] | undefined) => {
    const t0 = performance.now();
    const r = await Container.run(['/bin/true'], options);
    const t = performance.now() - t0;
    if (r.status !== 'ok') throw r.error ?? new Error(`Container.run: status ${r.status}`);
    into?.push(t);
  };
  for (let i = 0; i < warm; i++) for (const k of kinds) await one(k.options, undefined);
  for (let b = 0; kinds.some((k) => k.into.length < n); b++) {
    // The order of kinds turns each round, so each follows each.
    for (let j = 0; j < kinds.length; j++) {
      const k = kinds[(b + j) % kinds.length]!;
      for (let i = 0; i < BLOCK && k.into.length < n; i++) await one(k.options, i < BLOCK_SKIP ? undefined : k.into);
    }
  }
  const rows = [
    summary(`\`Container.run(['/bin/true'])\` back to back, in blocks of ${BLOCK}`, kinds[0]!.into),
    summary(`\`Container.run(['/bin/true'], { cgroup: {} })\` back to back, in blocks of ${BLOCK}`, kinds[1]!.into),
    summary(`\`Container.run(['/bin/true'], { cgroup: { memory: '64M', pids: 64 } })\` back to back, in blocks of ${BLOCK}`, kinds[2]!.into),
  ];
  for (const r of rows) r.over1ms = NaN;
  return rows;
}

/**
 * What the container's join costs in the kernel: moving a (sleeping) process
 * into a group, every hierarchy of it, as the child does with its
 * cgroup.procs writes. Back to back, and after the host's cgroups have been
 * left alone for COLD_MOVE_GAP_MS (on v1 a move takes a lock whose writer
 * may wait for an RCU grace period when none was taken recently).
 */
async function moves(n: number, progress: (msg: string) => void): Promise<OpSummary[]> {
  const child = spawn('sleep', ['1000'], { stdio: 'ignore' });
  const gone = new Promise((r) => child.once('close', r));
  const a = new CGroup({}).create();
  const b = new CGroup({}).create();
  const warm: number[] = [];
  const cold: number[] = [];
  try {
    if (child.pid === undefined) throw new Error('cannot spawn sleep');
    const pid = child.pid;
    let into = a;
    const move = () => {
      into = into === a ? b : a;
      const t0 = performance.now();
      into.addProcess(pid);
      return performance.now() - t0;
    };
    progress(`cgroup ops: ${n} moves back to back, ${n} after ${COLD_MOVE_GAP_MS} ms idle`);
    for (let i = 0; i < 10; i++) move();
    for (let i = 0; i < n; i++) {
      await new Promise((r) => setTimeout(r, COLD_MOVE_GAP_MS));
      cold.push(move());
      warm.push(move()); // right after the cold one
    }
  } finally {
    child.kill('SIGKILL');
    await gone;
    await a.destroy();
    await b.destroy();
  }
  const where = a.version === 2 ? 'its cgroup.procs' : 'cgroup.procs of memory, cpuacct and pids';
  return [
    summary(`move a process into a group (\`addProcess\`: ${where}), right after another move`, warm),
    summary(`same, after ${COLD_MOVE_GAP_MS} ms without a move`, cold),
  ];
}
