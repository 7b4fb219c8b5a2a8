/**
 * The suite checks itself for leaks after every test: no container init
 * left running, no mount added to the host's table, no fd of ours left open,
 * no test temp dir left behind.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PARENT, readCgroupMounts } from '../../lib/cgroup/host';
import { pooledCgroupDirs } from '../../lib/cgroup/pool';
import { ownerMarkDirs } from '../../lib/cgroup/owner';
import { tmpdir } from 'node:os';

/**
 * Container inits of this process: our children running init (its comm is
 * "isolate-kit-ini", or the memfd's name when exec'd directly). Only our own:
 * other test runs on the machine have theirs.
 */
export function initProcesses(): number[] {
  return childProcesses().filter((pid) => {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      return comm === 'isolate-kit-ini' || comm.startsWith('memfd:isolate');
    } catch {
      return false; /* gone meanwhile */
    }
  });
}

/** Children of this process (any command). */
export function childProcesses(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Every process below `pid` (children first, then theirs), from /proc/PID/task/TID/children. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  let level = [pid];
  while (level.length) {
    const next: number[] = [];
    for (const p of level) {
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${p}/task`);
      } catch {
        continue; /* gone meanwhile */
      }
      for (const t of tids) {
        try {
          next.push(...readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
        } catch {
          /* gone meanwhile */
        }
      }
    }
    out.push(...next);
    level = next;
  }
  return out;
}

/** SIGKILL to `pid`, if it is still there. */
export function kill9(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

/**
 * Ends the processes a test left (our children not in `keep`, and all
 * below them) and waits until they are reaped: what is below first, so a
 * fixture's subreaper still reaps its orphans; then our children, whose
 * ChildProcess handles (or the addon, for inits) reap them. A failed
 * test's fallout would otherwise be blamed on the next test, and a child
 * Node still waits for would keep the run from ever ending.
 */
export async function endStrays(keep: ReadonlySet<number>): Promise<number[]> {
  const kids = childProcesses().filter((p) => !keep.has(p));
  const below = kids.flatMap(descendantsOf);
  for (const p of below) kill9(p);
  await settle(() => (below.some((p) => kids.some((k) => descendantsOf(k).includes(p))) ? 'below' : ''), 3000);
  for (const p of kids) kill9(p);
  await settle(() => (childProcesses().some((p) => kids.includes(p)) ? 'kids' : ''), 3000);
  return kids;
}

/** The host mount table (mount point, fs type, source), as a sorted list. */
export function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const f = l.split(' ');
      const sep = f.indexOf('-');
      return `${f[4]} ${f[sep + 1]} ${f[sep + 2]}`;
    })
    .sort();
}

/**
 * This process's resource limits (/proc/self/limits). A test that lowers
 * them (RLIMIT_NOFILE above all) and fails to put them back would fail every
 * later test with EMFILE; putting a lowered fd limit back needs a spawn,
 * which needs fds: such tests run their part in a fixture process instead.
 */
export function ownLimits(): string {
  return readFileSync('/proc/self/limits', 'utf8');
}

/** This process's umask, as /proc/self/status says it (process.umask() without an argument is deprecated). */
export function ownUmask(): string {
  return /^Umask:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
}

/** Puts back the fd limit (the one a test would lower) from `limits` (ownLimits()'s text); true if it now matches. */
export function restoreFdLimit(limits: string): boolean {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!m) return false;
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${m[1]}:${m[2]}`]);
  return ownLimits() === limits;
}

/** Our fds that are pipes, sockets, pidfds, mount namespaces or epoll sets (a container's netlink set, csrc/netlink_ledger.h): the kinds a container holds. */
export function containerishFds(): Map<number, string> {
  const m = new Map<number, string>();
  for (const d of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${d}`);
      if (/^(pipe|socket|mnt):|pidfd|eventfd|eventpoll|^\/sys\/fs\/cgroup\//.test(target)) m.set(Number(d), target);
    } catch {
      /* closed meanwhile (the readdir fd itself) */
    }
  }
  return m;
}

/**
 * Test temp dirs carry the run's id (the first mocha process's pid, which
 * fixtures it starts inherit through the environment): another run on
 * the machine at the same time has its own, and neither is taken for the
 * other's leak.
 */
const RUN = (process.env.ISOLATE_KIT_TEST_RUN ??= String(process.pid));
export const TEMP_PREFIX = `isolate-kit-test-${RUN}-`;

/** Test temp dirs still present in the system temp dir. */
export function tempDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith(TEMP_PREFIX));
}

/** Polls `check` until it returns '' (no leak) or the deadline passes; returns the last complaint. */
export async function settle(check: () => string, ms = 2000): Promise<string> {
  const deadline = Date.now() + ms;
  let why = check();
  while (why && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    why = check();
  }
  return why;
}

/** cgroups this process made under the default parent that still exist (the ready pool aside). */
export function ourCgroups(): string[] {
  const pooled = new Set([...pooledCgroupDirs(), ...ownerMarkDirs()]); // and the marks gc() checks (owner.ts): both live as long as the process
  const m = readCgroupMounts();
  const roots = [...new Set([...(m.v2Mount && m.layout === 'v2' ? [m.v2Mount] : []), ...m.v1.values()])];
  const out: string[] = [];
  for (const r of roots) {
    const parent = join(r, DEFAULT_PARENT);
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(`${process.pid}-`) && !pooled.has(join(parent, n))) out.push(join(parent, n));
  }
  return out;
}
