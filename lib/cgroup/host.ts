/**
 * What this host's cgroups look like, read from the mount table and the
 * cgroup files themselves (never guessed from the kernel version), and where
 * isolate-kit may create its cgroups: an `isolate-kit` parent at the root of
 * each hierarchy when root, or a subtree delegated to the caller.
 */
import { accessSync, constants, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { IsolateError, fromSystemError } from '../errors';
import { native } from '../native';
import { parseCpuList, type Controller, type HostTopology, type HugePageSize } from './limits';

/** A group's name, `<owner pid>-<owner start time>-<counter>` (cgroup.ts newCgroupName; gc() reads the owner from it). */
export const CGROUP_NAME_RE = /^(\d+)-(\d+)-([0-9a-f]{10})$/;

/** v1 controllers isolate-kit uses, by the name its hierarchy mounts (io is blkio on v1). */
export const V1_NAMES: Record<Controller | 'cpuacct' | 'freezer', string> = {
  hugetlb: 'hugetlb',
  memory: 'memory',
  cpu: 'cpu',
  cpuacct: 'cpuacct',
  cpuset: 'cpuset',
  pids: 'pids',
  io: 'blkio',
  devices: 'devices',
  freezer: 'freezer',
  net_cls: 'net_cls',
};

/**
 * Why a v1/hybrid host's groups lack a controller, for messages (the
 * CGroup's error, probe()). A hybrid host may have it on its cgroup2 mount
 * instead (hugetlb, where no v1 hierarchy was mounted for it), where
 * isolate-kit makes no groups: the kernel moves it to a v1 hierarchy
 * mounted for it while no cgroup2 group enables it.
 */
export function noV1Hierarchy(name: string): string {
  const v2 = readCgroupMounts().v2Mount;
  const onV2 = v2 !== undefined && (readText(`${v2}/cgroup.controllers`) ?? '').split(/\s+/).includes(name);
  return onV2
    ? `this hybrid host has it on its cgroup2 mount (${v2}), where isolate-kit makes no groups, and no v1 hierarchy of it (\`mkdir /sys/fs/cgroup/${name} && mount -t cgroup -o ${name} cgroup /sys/fs/cgroup/${name}\` makes one while no cgroup2 group enables it; docs/cgroups.md)`
    : 'no v1 hierarchy of it is mounted';
}

/** Options of a v1 cgroup mount that are not controllers. */
const V1_MOUNT_FLAGS = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'xattr', 'noprefix', 'clone_children', 'cpuset_v2_mode', 'favordynmods']);

export interface CgroupMounts {
  /** 'v2': unified only; 'hybrid': v1 controllers plus a v2 mount; 'v1': v1 only. */
  layout: 'v2' | 'hybrid' | 'v1' | 'none';
  v2Mount?: string;
  /** v1 controller → its hierarchy's mount point. */
  v1: Map<string, string>;
  /** v1 mount point → every controller of that hierarchy ('cpu,cpuacct'), as a mount needs them. */
  v1Controllers: Map<string, string>;
  /**
   * The tmpfs every v1 hierarchy is mounted in (/sys/fs/cgroup), when they
   * all are, directly: a container's view can bind it (its directories
   * only) instead of making one.
   */
  v1Root?: string;
}

let cachedMounts: CgroupMounts | undefined;

/**
 * Parses /proc/self/mountinfo for cgroup and cgroup2 mounts (cached: hosts
 * mount their cgroup filesystems at boot and leave them).
 */
export function readCgroupMounts(mountinfo?: string): CgroupMounts {
  if (mountinfo === undefined && cachedMounts) return cachedMounts;
  let text: string;
  try {
    text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (err) {
    // A full fd table, the one way this read fails: an IsolateError as
    // every other step's (not cached: the next call reads again).
    throw fromSystemError('ERR_SETUP_FAILED', "Cannot read this process's mounts (/proc/self/mountinfo) to find the cgroup hierarchies", err);
  }
  const out: CgroupMounts = { layout: 'none', v1: new Map(), v1Controllers: new Map() };
  const tmpfs = new Set<string>();
  for (const line of text.split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    if (sep < 0) continue;
    const fstype = parts[sep + 1];
    const mountPoint = parts[4]!.replace(/\\040/g, ' ');
    if (fstype === 'tmpfs') tmpfs.add(mountPoint);
    // Only a hierarchy's root is usable: a bind of a sub-cgroup is someone else's view.
    if (parts[3] !== '/') continue;
    if (fstype === 'cgroup2' && out.v2Mount === undefined) {
      out.v2Mount = mountPoint;
    } else if (fstype === 'cgroup') {
      const opts = (parts[sep + 3] ?? '').split(',');
      const controllers = opts.filter((o) => !V1_MOUNT_FLAGS.has(o) && !o.includes('='));
      for (const o of opts) {
        if (Object.values(V1_NAMES).includes(o) && !out.v1.has(o)) {
          out.v1.set(o, mountPoint);
          out.v1Controllers.set(mountPoint, controllers.join(','));
        }
      }
    }
  }
  const hasV1 = out.v1.size > 0;
  const roots = new Set([...out.v1Controllers.keys()].map((m) => dirname(m)));
  const [root] = roots;
  if (roots.size === 1 && tmpfs.has(root!)) out.v1Root = root;
  out.layout = hasV1 ? (out.v2Mount ? 'hybrid' : 'v1') : out.v2Mount ? 'v2' : 'none';
  if (mountinfo === undefined) cachedMounts = out;
  return out;
}

/** A small file's text, trimmed, or undefined when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

let topology: HostTopology | undefined;

/** Online CPUs and memory nodes (the bounds of cpus and cpuset). */
export function hostTopology(): HostTopology {
  if (topology) return topology;
  const cpus = parseCpuList('cpus', readText('/sys/devices/system/cpu/online') ?? '0');
  const mems = parseCpuList('mems', readText('/sys/devices/system/node/online') ?? '0');
  topology = { cpus, mems, hugePages: hugePageSizes() };
  return topology;
}

/**
 * The kernel's huge page sizes (/sys/kernel/mm/hugepages/hugepages-<n>kB,
 * fixed at boot), each with the name its hugetlb cgroup files carry: the
 * kernel's mem_fmt(), "64KB", "2MB", "1GB".
 */
function hugePageSizes(): HugePageSize[] {
  let names: string[];
  try {
    names = readdirSync('/sys/kernel/mm/hugepages');
  } catch {
    return []; // a kernel without hugetlbfs
  }
  const out: HugePageSize[] = [];
  for (const n of names) {
    const m = /^hugepages-(\d+)kB$/.exec(n);
    if (!m) continue;
    const bytes = Number(m[1]) * 1024;
    const [unit, div] = bytes >= 2 ** 30 ? ['GB', 2 ** 30] : bytes >= 2 ** 20 ? ['MB', 2 ** 20] : ['KB', 1024];
    out.push({ name: `${Math.floor(bytes / div)}${unit}`, bytes });
  }
  return out.sort((a, b) => a.bytes - b.bytes);
}

/** This process's cgroup in each hierarchy: '' key for v2, controller names for v1. */
export function ownCgroups(text = readText('/proc/self/cgroup') ?? ''): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    for (const c of line.slice(first + 1, second).split(',')) m.set(c, path);
  }
  return m;
}

/** Where one CGroup's directories go: the parent directory in each hierarchy it uses. */
export interface CgroupParent {
  version: 1 | 2;
  /** v2: the parent dir. */
  v2Dir?: string;
  /** v1: controller → parent dir in its hierarchy (controllers sharing a hierarchy share it). */
  v1Dirs: Map<string, string>;
  /** Controllers usable under this parent (v2 names, plus 'cpuacct' and 'freezer' on v1). */
  controllers: Set<string>;
  /** The user's `parent` (or the default), for messages. */
  name: string;
}

export const DEFAULT_PARENT = 'isolate-kit';

function isRoot(): boolean {
  return process.geteuid?.() === 0;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why a non-root caller cannot use `dir` as its parent, or null if it can. */
function delegationProblem(dir: string, v2: boolean): string | null {
  if (!writable(dir)) return `${dir} is not writable by uid ${process.geteuid?.()}`;
  if (v2 && !writable(join(dir, 'cgroup.subtree_control'))) return `${dir}/cgroup.subtree_control is not writable (not delegated)`;
  if (!writable(join(dir, 'cgroup.procs'))) return `${dir}/cgroup.procs is not writable (not delegated)`;
  return null;
}

/**
 * Directory paths a `parent` must not start with: where the cgroup
 * filesystems are mounted, and the directories holding those mounts. A
 * `parent` is a path inside each hierarchy (the same in every one), so
 * '/sys/fs/cgroup/memory/jobs' would make /sys/fs/cgroup/<every
 * hierarchy>/sys/fs/cgroup/memory/jobs.
 */
function mountPaths(mounts: CgroupMounts): string[] {
  const points = [mounts.v2Mount, ...mounts.v1.values(), mounts.v1Root].filter((m): m is string => m !== undefined);
  const all = new Set([...points, ...points.map((m) => dirname(m)), '/sys/fs/cgroup']);
  return [...all].map((m) => m.replace(/^\/+|\/+$/g, '')).filter((m) => m !== '');
}

/** Names of cgroup control files (cgroup.procs, memory.max, …): a group cannot be called that. */
const CONTROL_FILE_RE = /^((cgroup|memory|cpu|cpuset|cpuacct|io|blkio|pids|devices|freezer|hugetlb|net_cls|net_prio|perf_event|rdma|misc)\..*|notify_on_release|release_agent|tasks)$/;

function safeParent(name: string, mounts: CgroupMounts): string {
  if (typeof name !== 'string' || name === '' || name.split('/').some((p) => p === '..' || p === '.')) {
    throw new IsolateError('ERR_INVALID_OPTION', `Expected the cgroup \`parent\` to be a cgroup path like 'isolate-kit' or '/my.slice/jobs', got ${JSON.stringify(name)}`, {
      option: 'parent',
    });
  }
  const rel = name.replace(/^\/+|\/+$/g, '');
  // Each component a name the kernel would take for a group: no control
  // characters (a newline made mkdir fail with ENOENT, as a setup error),
  // and not a control file's name ('cgroup.procs', 'memory.max': EEXIST).
  // Nor a group's name: a container's group as a parent would have its
  // removal kill what runs below it (another container's processes), and
  // gc() would take it for a group whose owner is gone.
  const badPart = rel.split('/').find((p) => p === '' || /[\x00-\x1f\x7f]/.test(p) || CONTROL_FILE_RE.test(p) || CGROUP_NAME_RE.test(p));
  if (badPart !== undefined) {
    const why =
      badPart === ''
        ? 'is an empty component'
        : CONTROL_FILE_RE.test(badPart)
          ? "is named like a cgroup's control file"
          : CGROUP_NAME_RE.test(badPart)
            ? "is named like a container's group (<pid>-<start time>-<counter>), which would kill what runs below it when removed"
            : 'holds a control character';
    throw new IsolateError('ERR_INVALID_OPTION', `Expected the cgroup \`parent\` to be a cgroup path like 'isolate-kit' or '/my.slice/jobs', got ${JSON.stringify(name)}: ${JSON.stringify(badPart)} ${why}`, {
      option: 'parent',
    });
  }
  const prefix = mountPaths(mounts)
    .filter((m) => rel === m || rel.startsWith(`${m}/`))
    .sort((a, b) => b.length - a.length)[0];
  if (prefix !== undefined) {
    const below = rel.slice(prefix.length + 1);
    const isMount = [mounts.v2Mount, ...mounts.v1.values()].some((m) => m?.replace(/^\/+/, '') === prefix);
    throw new IsolateError(
      'ERR_INVALID_OPTION',
      `Expected the cgroup \`parent\` to be a cgroup path like 'isolate-kit/jobs' (a path inside each cgroup hierarchy, the same in all of them), got ${JSON.stringify(name)}, a filesystem path ` +
        (isMount
          ? `(/${prefix} is where a cgroup hierarchy is mounted)${below !== '' ? `; give the part below it, ${JSON.stringify(below)}` : ''}`
          : `(this host mounts its cgroup hierarchies under /${prefix})`),
      { option: 'parent' },
    );
  }
  return rel;
}

/**
 * Refuses (ERR_PERMISSION) a parent in which someone else could swap or
 * rename our groups: whoever can write a cgroup directory can rename the
 * directories in it (v1 lets even the owner of a parent rename root's
 * groups), so a later run would join a group with their limits, or gc()
 * would take a live group for dead. Root needs `dir` and every directory
 * from the hierarchy's mount down to it owned by root and writable by no
 * one else; any other caller (delegation), owned by itself or root and
 * writable by no one but their owner. Only directories that exist are
 * looked at (those made later are the caller's own, 0755).
 */
function checkParentOwnership(mount: string, dir: string, name: string | undefined): void {
  const euid = process.geteuid?.() ?? -1;
  const root = euid === 0;
  const what = name !== undefined ? `the cgroup parent ${JSON.stringify(name)}` : root ? `the default cgroup parent ${DEFAULT_PARENT}` : `this process's delegated cgroup parent ${dir}`;
  const rel = dir.slice(mount.length).split('/').filter(Boolean);
  let d = mount;
  for (let i = -1; i < rel.length; i++) {
    if (i >= 0) d = join(d, rel[i]!);
    let st: Stats;
    try {
      st = lstatSync(d);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // nothing below exists: ours to make
      throw permissionOrSetup(`Cannot check ${what}`, err, undefined, 'parent');
    }
    if (!st.isDirectory()) return; // the mkdir says what is wrong
    const ownerOk = st.uid === 0 || (!root && st.uid === euid);
    const mode = st.mode & 0o7777;
    if (ownerOk && (mode & 0o022) === 0) continue;
    const who = !ownerOk ? `uid ${st.uid}` : mode & 0o002 ? 'any user' : `the users of group ${st.gid}`;
    const rule = root
      ? 'as root, isolate-kit uses a parent only when it and every directory above it in the hierarchy are owned by root and writable by no one else (chown root, chmod go-w)'
      : `a delegated parent and every directory above it in the hierarchy must be owned by uid ${euid} or root and writable by their owner only (chmod go-w)`;
    throw new IsolateError(
      'ERR_PERMISSION',
      `Refusing ${what}: ${d} is owned by uid ${st.uid} with mode ${mode.toString(8).padStart(4, '0')}, so ${who} could rename or replace the groups made in it (and the limits they run under); ${rule}, or pass another \`parent\``,
      { option: 'parent', path: d },
    );
  }
}

const parents = new Map<string, CgroupParent>();

/**
 * The parent for `name` (default: `isolate-kit` at the root of every
 * hierarchy when root; the caller's delegated cgroup otherwise), created
 * and prepared on first use. Throws ERR_UNSUPPORTED / ERR_PERMISSION saying
 * exactly why when there is none.
 */
export function resolveParent(name?: string): CgroupParent {
  // A name given is never the default's key: '' must be refused as a name
  // (safeParent), not taken for the default parent once that is cached.
  const key = name === undefined ? '' : `=${name}`;
  const cached = parents.get(key);
  if (cached) return cached;
  const mounts = readCgroupMounts();
  if (mounts.layout === 'none') throw new IsolateError('ERR_UNSUPPORTED', 'No cgroup filesystem is mounted on this host (see /proc/self/mountinfo)');
  const p = mounts.layout === 'v2' ? v2Parent(mounts, name) : v1Parent(mounts, name);
  // Held open by the addon: its mkdirs, opens and rmdirs of groups then
  // start from here, and never wait behind sysfs (a network namespace being
  // made takes sysfs's lock; /sys/fs/cgroup is reached through sysfs). One
  // that cannot be held is walked to from the root, as any path; so are
  // all without the addon (probe() resolves parents too; whatever needs
  // the addon says so itself).
  try {
    native().cgroupDirs(p.version === 2 ? [p.v2Dir!] : [...new Set(p.v1Dirs.values())]);
  } catch {
    /* no addon */
  }
  parents.set(key, p);
  return p;
}

/**
 * The directories `resolveParent(name)` would use, without creating or
 * changing anything (for gc() and probe): those that exist.
 */
export function existingParentDirs(name?: string): string[] {
  const mounts = readCgroupMounts();
  if (mounts.layout === 'none') return [];
  const rel = name !== undefined ? safeParent(name, mounts) : DEFAULT_PARENT;
  const roots = mounts.layout === 'v2' ? [mounts.v2Mount!] : [...new Set(mounts.v1.values())];
  const dirs = roots.map((r) => [r, join(r, rel)] as const).filter(([, d]) => exists(d));
  // gc() kills and removes what it finds here: not in a parent others could rearrange.
  for (const [r, d] of dirs) checkParentOwnership(r, d, name);
  return dirs.map(([, d]) => d);
}

function v2Parent(mounts: CgroupMounts, name: string | undefined): CgroupParent {
  const mount = mounts.v2Mount!;
  let rel: string;
  if (name !== undefined) rel = safeParent(name, mounts);
  else if (isRoot()) rel = DEFAULT_PARENT;
  else rel = delegatedV2(mount);
  const dir = join(mount, rel);
  const shown = name ?? rel;
  checkParentOwnership(mount, dir, name);
  let made: string | undefined;
  try {
    made = mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw permissionOrSetup(`Cannot create the cgroup parent ${dir}`, err, isRoot() ? undefined : delegationHint(), name === undefined ? undefined : 'parent');
  }
  // A nested parent's mkdir -p made the directories above it too: they are
  // ours, and without processes, so each hands its controllers on, top-down
  // (else the parent would get none). Existing ones are left as they are.
  if (made !== undefined && made !== dir) {
    let d = made;
    for (const part of ['', ...dir.slice(made.length).split('/').filter(Boolean).slice(0, -1)]) {
      if (part) d = join(d, part);
      enable(d, (readText(join(d, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean));
    }
  }
  // Hand every controller the parent's parent gives it on to our cgroups.
  // The default parent sits at the root, which is exempt from "no internal
  // processes", so enabling them there is always allowed (Docker does the same).
  // (Not root: the cgroup above ours is the delegated one, ours to enable too.)
  const up = join(dir, '..');
  const want = (readText(join(up, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
  if (name === undefined) enable(up, want);
  const available = (readText(join(dir, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
  enable(dir, available);
  const enabled = new Set((readText(join(dir, 'cgroup.subtree_control')) ?? '').split(/\s+/).filter(Boolean));
  return { version: 2, v2Dir: dir, v1Dirs: new Map(), controllers: enabled, name: shown };
}

/** Enables `controllers` in dir's subtree_control, each on its own (one refused must not block the rest). */
function enable(dir: string, controllers: string[]): void {
  const file = join(dir, 'cgroup.subtree_control');
  const have = new Set((readText(file) ?? '').split(/\s+/).filter(Boolean));
  for (const c of controllers) {
    if (have.has(c)) continue;
    try {
      writeFileSync(file, `+${c}`);
    } catch {
      /* reported as "controller not available" when a limit needs it */
    }
  }
}

function delegationHint(): string {
  return 'as non-root, run under a delegated cgroup (e.g. `systemd-run --user --scope -p Delegate=yes node app.js`) or pass a writable `parent`; see docs/cgroups.md';
}

/**
 * Where a non-root caller's groups would go on v2 and the controllers the
 * delegated cgroup offers them, creating and changing nothing (probe():
 * resolveParent() makes the parent and enables controllers). Throws as
 * resolveParent() would when nothing is delegated.
 */
export function delegatedV2Preview(): { parent: string; controllers: string[] } {
  const mount = readCgroupMounts().v2Mount!;
  const parent = join(mount, delegatedV2(mount));
  const offered = (readText(join(dirname(parent), 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean);
  return { parent, controllers: offered.sort() };
}

/**
 * A non-root caller's v2 parent: the cgroup it runs in must be delegated to
 * it, and it must not hold processes itself once it hands controllers down
 * (cgroup v2's "no internal processes" rule), so we use the parent of our own
 * cgroup's leaf when that is delegated too.
 */
function delegatedV2(mount: string): string {
  const own = ownCgroups().get('') ?? '/';
  const ownDir = join(mount, own);
  const up = join(ownDir, '..');
  if (own !== '/' && delegationProblem(up, true) === null) return join(own, '..', DEFAULT_PARENT).replace(/^\/+/, '');
  const why = delegationProblem(ownDir, true);
  throw new IsolateError(
    'ERR_PERMISSION',
    why
      ? `cgroup limits need root or a delegated cgroup: this process's cgroup ${own}: ${why}; ${delegationHint()}`
      : // (A `parent` would not help: it would be below this cgroup too.)
        `cgroup limits need a cgroup without processes of its own: this process runs in the delegated cgroup ${own} itself, which cgroup v2 does not allow to hand controllers down; ` +
        `move this process into a group below it first (as the service starts: \`mkdir ${ownDir}/node && echo $$ > ${ownDir}/node/cgroup.procs\`, or systemd 254+'s DelegateSubgroup=node); isolate-kit then makes its groups in ${join(ownDir, DEFAULT_PARENT)}; see docs/cgroups.md`,
    { path: ownDir },
  );
}

function v1Parent(mounts: CgroupMounts, name: string | undefined): CgroupParent {
  const own = ownCgroups();
  const root = isRoot();
  const given = name !== undefined ? safeParent(name, mounts) : undefined;
  const v1Dirs = new Map<string, string>();
  const problems: string[] = [];
  for (const [controller, mount] of mounts.v1) {
    let rel: string;
    if (given !== undefined) rel = given;
    else if (root) rel = DEFAULT_PARENT;
    // v1 has no "no internal processes" rule: a delegated own cgroup will do.
    else rel = (own.get(controller) ?? '/').replace(/^\/+/, '');
    const dir = join(mount, rel);
    if (!root) {
      // Not root: only hierarchies delegated to us (owned, writable) count.
      const why = delegationProblem(dir, false);
      if (why) {
        problems.push(`${controller}: ${why}`);
        continue;
      }
    }
    v1Dirs.set(controller, dir);
  }
  if (v1Dirs.size === 0) {
    throw new IsolateError('ERR_PERMISSION', `cgroup limits need root or delegated cgroups: ${problems.join('; ')}; ${delegationHint()}`);
  }
  // Every hierarchy's, before any is created.
  for (const [c, dir] of v1Dirs) checkParentOwnership(mounts.v1.get(c)!, dir, name);
  const controllers = new Set<string>();
  for (const [c, dir] of v1Dirs) {
    if (root) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        throw permissionOrSetup(`Cannot create the cgroup parent ${dir}`, err, undefined, name === undefined ? undefined : 'parent');
      }
    }
    controllers.add(c === 'blkio' ? 'io' : c);
  }
  // cpuset: a new v1 cgroup starts with no CPUs and no memory nodes, and
  // refuses tasks (and children with any) until both are set. Give every
  // directory from the hierarchy's root down to our parent that has none
  // its own parent's, top-down (a nested parent's mkdir -p made the ones
  // above it empty too), so every group can copy them.
  const cs = v1Dirs.get('cpuset');
  if (cs && controllers.has('cpuset')) {
    const why = initCpuset(mounts.v1.get('cpuset')!, cs);
    if (why) {
      controllers.delete('cpuset');
      problems.push(`cpuset: ${why}`);
    }
  }
  // named when a limit needs one of them (cgroup.ts looks them up by the parent's name, '' when delegated)
  if (problems.length > 0) unusableV1.set(name ?? (root ? DEFAULT_PARENT : ''), problems);
  return { version: 1, v1Dirs, controllers, name: name ?? (root ? DEFAULT_PARENT : 'delegated') };
}

/** Fills empty cpuset.cpus and cpuset.mems from mount (exclusive) down to dir, each from its parent; why not, or null. */
function initCpuset(mount: string, dir: string): string | null {
  let d = mount;
  for (const part of dir.slice(mount.length).split('/').filter(Boolean)) {
    d = join(d, part);
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if ((readText(join(d, f)) ?? '') !== '') continue;
      const from = readText(join(d, '..', f)) ?? '';
      if (from === '') return `${join(d, f)} is empty, and so is its parent's`;
      try {
        writeFileSync(join(d, f), from);
      } catch (err) {
        return `${join(d, f)} is empty and could not be set to its parent's ${JSON.stringify(from)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
      }
    }
  }
  return null;
}

/** v1 hierarchies a non-root caller could not use, and why (for messages). */
export const unusableV1 = new Map<string, string[]>();

function permissionOrSetup(what: string, err: unknown, hint?: string, option?: string): IsolateError {
  const e = err as NodeJS.ErrnoException;
  const code = e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' ? 'ERR_PERMISSION' : 'ERR_SETUP_FAILED';
  return new IsolateError(code, `${what}: ${e.code ?? e.message}${hint ? `; ${hint}` : ''}`, { path: e.path, syscall: e.syscall, cause: err, ...(option ? { option } : {}) });
}

/** Does `dir` exist (a cgroup we made may be gone if someone removed it)? */
export function exists(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A process's start time (clock ticks since boot, /proc/PID/stat field 22),
 * or null if it is gone; with `strict`, a read that fails for another
 * reason (EMFILE) throws rather than reading as gone. 'self' is this
 * process, whatever pid namespace /proc was mounted from (/proc/<our pid>
 * is another process when that is not ours).
 */
export function processStartTime(pid: number | 'self', strict = false): number | null {
  const stat = strict ? readFileSync(`/proc/${pid}/stat`, 'utf8') : readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]);
}

/** Clears cached parents (tests that change delegation). */
export function resetParents(): void {
  parents.clear();
  cachedMounts = undefined;
  unusableV1.clear();
}
