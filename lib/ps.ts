/**
 * listContainers(): the containers running on this machine, whoever started
 * them, read from /proc (what `isolate-kit ps` prints).
 *
 * No state records: a container is its init, and /proc already says all
 * that matters of it. A record written at each start would cost the start
 * a file write and could outlive a crashed owner; /proc cannot. Each init
 * names itself (comm `isolate-kit-ini`, csrc/init/main.c) and runs from the
 * memfd its owner loaded it into (exe `/memfd:isolate-kit-init`).
 *
 * Everything inside a container is the payload's to change: its processes'
 * names and command lines too. So a process there that names itself like
 * an init is never taken for a container of its own (it has a container's
 * init above it: it counts as one of that container's processes), and a
 * process outside one named so is taken only when its exe is the init's
 * memfd. Command lines are returned as read; the CLI escapes them before
 * they reach a terminal.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { CGROUP_NAME_RE, ownCgroups, readCgroupMounts } from './cgroup/host';
import { NAMESPACE_KINDS, type NamespaceKind } from './namespace';

/** A running container, as listContainers() finds it. */
export interface ContainerInfo {
  /** Its init's pid (in this process's pid namespace): what `kill` takes. */
  pid: number;
  /** The process that started it (a Node process using isolate-kit) and its command line. */
  owner: { pid: number; command: string[] };
  /** When its init started. */
  startedAt: Date;
  /** Its processes, init included. */
  processes: number;
  /** Its main process's command line (the oldest below init); null when none runs (started empty, or between processes). */
  command: string[] | null;
  /** The namespaces it has of its own (not its owner's); null where this user may not look (another user's container). */
  namespaces: NamespaceKind[] | null;
  /** Its own cgroup directory (on v1, the memory hierarchy's); null when it has none of its own. */
  cgroup: string | null;
  /** Memory its cgroup is charged for (page cache included); null without a group of its own. */
  memoryBytes: number | null;
}

const INIT_COMM = 'isolate-kit-ini';
const INIT_EXE = '/memfd:isolate-kit-init';
/** /proc/PID/stat's times are in USER_HZ, 100 on every architecture Linux runs Node on. */
const USER_HZ = 100;

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
  start: number;
}

/** A /proc file's text as it is (host.ts readText trims, which would change a command line's last argument). */
function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

/** pid, comm, state, ppid and start time from /proc/PID/stat; undefined once it is gone. */
function readProc(pid: number): Proc | undefined {
  const stat = readRaw(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // comm is in parentheses and may hold anything, ')' and spaces included.
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  return { pid, comm: stat.slice(stat.indexOf('(') + 1, close), state: fields[0]!, ppid: Number(fields[1]), start: Number(fields[19]) };
}

function commandLine(pid: number): string[] {
  const text = readRaw(`/proc/${pid}/cmdline`) ?? '';
  return text === '' ? [] : text.replace(/\0$/, '').split('\0');
}

/** true: the init's memfd; false: another file; undefined: not ours to see (another user's init is not dumpable). */
function runsInit(pid: number): boolean | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`).startsWith(INIT_EXE);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? undefined : false;
  }
}

function nsLink(pid: number, kind: NamespaceKind): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

/** The kinds of namespace `pid` has apart from `owner`; null if either cannot be read. */
function ownNamespaces(pid: number, owner: number): NamespaceKind[] | null {
  const own: NamespaceKind[] = [];
  for (const kind of NAMESPACE_KINDS) {
    const mine = nsLink(pid, kind);
    const theirs = nsLink(owner, kind);
    if (mine === undefined || theirs === undefined) {
      // A kernel without this kind (time before 5.6) has the link for neither.
      if (nsLink(process.pid, kind) === undefined) continue;
      return null;
    }
    if (mine !== theirs) own.push(kind);
  }
  return own;
}

/** The container's group of its own: its directory and what it is charged for. */
function ownGroup(pid: number): { cgroup: string | null; memoryBytes: number | null } {
  const none = { cgroup: null, memoryBytes: null };
  const mounts = readCgroupMounts();
  const v1 = mounts.layout !== 'v2';
  const mount = v1 ? mounts.v1.get('memory') : mounts.v2Mount;
  const path = ownCgroups(readRaw(`/proc/${pid}/cgroup`) ?? '').get(v1 ? 'memory' : '');
  // Only a group isolate-kit made for it (named <owner pid>-<start>-<n>):
  // one shared with its caller holds the caller's memory too.
  if (mount === undefined || path === undefined || !CGROUP_NAME_RE.test(basename(path))) return none;
  const dir = `${mount}${path}`;
  const text = readRaw(`${dir}/${v1 ? 'memory.usage_in_bytes' : 'memory.current'}`);
  const bytes = text === undefined ? NaN : Number(text.trim());
  return { cgroup: dir, memoryBytes: Number.isSafeInteger(bytes) ? bytes : null };
}

/** Boot time (s since the epoch), for start times in clock ticks since boot. */
function bootTime(): number {
  const m = /^btime (\d+)$/m.exec(readRaw('/proc/stat') ?? '');
  return m ? Number(m[1]) : 0;
}

/**
 * Every container running on this machine that this process's /proc
 * shows (all of them from the host's pid namespace), oldest first.
 * Containers inside containers count as their enclosing container's
 * processes. A snapshot: containers start and end while it reads.
 */
export function listContainers(): ContainerInfo[] {
  const procs = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) procs.set(p.pid, p);
  }
  const children = new Map<number, Proc[]>();
  for (const p of procs.values()) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  // A zombie init is a container that ended, its owner yet to collect it.
  const named = [...procs.values()].filter((p) => p.comm === INIT_COMM && p.state !== 'Z');
  const inits = new Set(named.filter((p) => runsInit(p.pid) !== false).map((p) => p.pid));
  const insideOne = (p: Proc): boolean => {
    const seen = new Set<number>();
    for (let up = procs.get(p.ppid); up && !seen.has(up.pid); up = procs.get(up.ppid)) {
      if (inits.has(up.pid)) return true;
      seen.add(up.pid);
    }
    return false;
  };
  const boot = bootTime();
  const out: ContainerInfo[] = [];
  for (const pid of inits) {
    const init = procs.get(pid)!;
    if (insideOne(init)) continue;
    let processes = 0;
    for (const stack = [init]; stack.length > 0; ) {
      const p = stack.pop()!;
      processes++;
      stack.push(...(children.get(p.pid) ?? []));
    }
    const main = (children.get(pid) ?? []).filter((c) => c.state !== 'Z').sort((a, b) => a.start - b.start || a.pid - b.pid)[0];
    out.push({
      pid,
      owner: { pid: init.ppid, command: commandLine(init.ppid) },
      startedAt: new Date((boot + init.start / USER_HZ) * 1000),
      processes,
      command: main ? commandLine(main.pid) : null,
      namespaces: ownNamespaces(pid, init.ppid),
      ...ownGroup(pid),
    });
  }
  return out.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || a.pid - b.pid);
}
