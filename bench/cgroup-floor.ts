/**
 * The C floor of a group's cost, measured in the same run as the library's
 * rows: bench/cgroup-floor.c, compiled here with the host's C compiler,
 * starts /bin/true with fork + exec with and without a fresh group made,
 * joined, read and removed around it, all of it serial (that file says
 * exactly what). Issue #3 sets the cgroup target next to such a floor
 * ("~0.16 ms for memory+pids on v1" where it was written); on a slower host
 * the floor itself moves, and this says by how much.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CGroup } from '../lib';

export interface FloorReport {
  /** Hierarchies (v1) or "unified" (v2) the floor's group has a directory in. */
  where: string[];
  rounds: number;
  /** Medians, ms: fork + exec + wait of /bin/true without and with the group. */
  noneMs: number;
  groupMs: number;
  /** Median of the per-round differences, ms. */
  pairedDeltaMs: number;
}

/** The library's own name prefix for this process's groups (`<pid>-<start>-`), so gc() knows a floor group a crash left. */
function namePrefix(): string {
  const owner = require('../lib/cgroup/owner') as { ownerId?: () => string };
  return `${owner.ownerId?.() ?? `${process.pid}-0`}-`;
}

/**
 * Compiles and runs the floor with the hierarchies a `{ memory, pids }`
 * group of the library has (v1: memory and pids, as issue #3's floor; v2:
 * its one directory). A string says why it was not measured.
 */
export async function measureCgroupFloor(rounds: number, warmup: number): Promise<FloorReport | string> {
  // A group of the library's own, made and removed at once: its parents
  // exist then, with this process's owner mark in each (so gc() leaves the
  // floor's groups alone while it runs).
  const probe = new CGroup({ memory: '64M', pids: 64 }).create();
  const paths = probe.paths;
  const version = probe.version;
  await probe.destroy();
  const pick = version === 2 ? paths : paths.filter((p) => /\/(memory|pids)\/isolate-kit\//.test(p));
  if (pick.length === 0) return 'not measured: no memory or pids hierarchy';
  const parents = pick.map((p) => dirname(p));
  const where = version === 2 ? ['unified'] : pick.map((p) => p.split('/')[4] ?? p);

  const dir = mkdtempSync(join(tmpdir(), 'isolate-kit-floor-'));
  try {
    const exe = join(dir, 'cgroup-floor');
    const source = resolve(__dirname, '..', '..', 'bench', 'cgroup-floor.c');
    let compiled: ReturnType<typeof spawnSync> | undefined;
    for (const cc of [process.env.CC, 'cc', 'gcc'].filter((x): x is string => !!x)) {
      compiled = spawnSync(cc, ['-O2', '-o', exe, source], { encoding: 'utf8', timeout: 60_000 });
      if (compiled.status === 0) break;
    }
    if (!compiled || compiled.status !== 0) return `not measured: could not compile bench/cgroup-floor.c (${String(compiled?.error ?? compiled?.stderr ?? 'no compiler').trim().split('\n')[0]})`;
    const join1 = version === 2 ? 'cgroup.procs' : 'tasks';
    const peak = version === 2 ? 'memory.peak' : 'memory.max_usage_in_bytes';
    const ran = spawnSync(exe, [String(rounds), String(warmup), namePrefix(), join1, peak, ...parents], { encoding: 'utf8', timeout: 600_000 });
    if (ran.status !== 0) return `failed: ${(ran.stderr || String(ran.error ?? ran.status)).trim()}`;
    const r = JSON.parse(ran.stdout) as { rounds: number; noneUs: number; groupUs: number; pairedDeltaUs: number };
    return { where, rounds: r.rounds, noneMs: r.noneUs / 1000, groupMs: r.groupUs / 1000, pairedDeltaMs: r.pairedDeltaUs / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
