/**
 * The container's filesystem: the root from a LayerStack, then the kernel
 * filesystems every container gets (/proc, /dev, /sys), private tmpfs, the
 * paths runc masks or makes read-only, the user's mounts, and pivot_root.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { DEVICES } from './dev-nodes';
import { IsolateError, invalidOption } from './errors';
import type { UnionKind } from './image/union-kind';
import { LayerStack } from './layer-stack';
import { MOUNT_ATTR, MS, Op, OpFlag, PLAN_MAX_OPS, PlanBuilder } from './plan';
import { tmpfsInodes } from './tmpfs';
import { parseSize, type Size } from './units';

/** Bind a host path into the container. */
export interface BindMount {
  type: 'bind';
  /** Host path (resolved against the current directory). Must exist. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  /** Mount read-only. @default false (as Docker's -v) */
  readonly?: boolean;
  /** Include mounts under `source`. @default true */
  recursive?: boolean;
}

/** A private tmpfs inside the container. */
export interface TmpfsMount {
  type: 'tmpfs';
  /** Absolute path inside the container. */
  target: string;
  /** Size limit. @default '64M' */
  size?: Size;
  /** Permissions of its root directory. @default 0o1777 */
  mode?: number;
  /**
   * How many files, directories and symlinks it may hold (the kernel's
   * `nr_inodes`; `size` counts only data). @default one per KiB of size, at least 1024
   */
  inodes?: number;
}

export type MountSpec = BindMount | TmpfsMount;

/** A validated mount: target normalized, source resolved. */
export type ResolvedMount =
  | { type: 'bind'; source: string; target: string; readonly: boolean; recursive: boolean }
  | { type: 'tmpfs'; target: string; size: number; mode: number; inodes: number };

/** Default sizes of the private tmpfs mounts. */
export const DEFAULT_TMP_SIZE = 64 * 1024 * 1024;
const RUN_SIZE = 16 * 1024 * 1024;
const SHM_SIZE = 64 * 1024 * 1024;
/** Pseudo-terminals a container may hold at once (its devpts `max`). */
export const PTYS_MAX = 64;
/** A tmpfs's largest inode count here (the kernel takes an unsigned long; 2^31 − 1 is far past any memory). */
const MAX_INODES = 2 ** 31 - 1;

/** Paths that are private tmpfs in every container (so mounts below them can be created). */
const DEFAULT_TMPFS = ['/tmp', '/run', '/dev', '/dev/shm'];

/**
 * Where planFilesystem mounts a kernel filesystem or private tmpfs in the
 * root itself (/sys only with its own network namespace): the mount points
 * init makes in a layered root that lacks them, which diff() and commit()
 * leave out.
 */
export const KERNEL_MOUNTPOINTS: readonly string[] = ['/proc', '/dev', '/sys', '/tmp', '/run'];

/** runc's default masked paths: hidden (empty and read-only) inside the container. */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/**
 * runc's default read-only paths, and /proc/pressure: its files are
 * writable by every user (0666), and a write adds a pressure trigger on the
 * host's own figures, a kernel allocation charged to no cgroup for each
 * open file (docs/security.md). Reading them stays allowed.
 */
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/pressure', '/proc/sys', '/proc/sysrq-trigger'];


const S_IFCHR = 0o020000;

const MAX_PATH = 4096;
/**
 * The most mounts a container takes: each is one step of its plan, which
 * init reads only up to PLAN_MAX_OPS steps, and the container's own steps
 * and its process's take up to a few hundred more. (With 4,100 a start
 * failed inside init, reported as a protocol error.)
 */
export const MOUNTS_MAX = PLAN_MAX_OPS - 512;
/** The longest name of one file the kernel takes (NAME_MAX): a longer one fails with ENAMETOOLONG inside init. */
const MAX_NAME = 255;

/** Checks an absolute in-container path and returns it normalized. */
export function checkContainerPath(option: string, value: unknown, allowRoot = false): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0')) {
    throw invalidOption(option, 'an absolute path', value);
  }
  if (value.length > (MAX_PATH - 1) / 3 && Buffer.byteLength(value) > MAX_PATH - 1) {
    throw invalidOption(option, `an absolute path of at most ${MAX_PATH - 1} bytes (the kernel's PATH_MAX, its NUL counted)`, value);
  }
  if (value.split('/').some((name) => Buffer.byteLength(name) > MAX_NAME)) {
    throw invalidOption(option, `an absolute path whose names are at most ${MAX_NAME} bytes each`, value);
  }
  const p = posix.normalize(value).replace(/\/+$/, '') || '/';
  if (p === '/' && !allowRoot) throw invalidOption(option, 'an absolute path other than /', value);
  return p;
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

const NOT_PROC = "a path other than /proc (the container's procfs; a file below it, e.g. /proc/cpuinfo, may be covered)";

/** Validates the `mounts` option against the root it will land in. */
export function resolveMounts(value: unknown, rootfs: LayerStack): ResolvedMount[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalidOption('mounts', 'an array of mounts', value);
  if (value.length > MOUNTS_MAX) {
    throw new IsolateError('ERR_INVALID_OPTION', `${value.length} mounts are too many: a container takes at most ${MOUNTS_MAX} (one step each of its plan, which has at most ${PLAN_MAX_OPS})`, {
      option: 'mounts',
    });
  }
  const out: ResolvedMount[] = value.map((m: unknown, i): ResolvedMount => {
    const name = `mounts[${i}]`;
    if (typeof m !== 'object' || m === null) throw invalidOption(name, "a mount ({ type: 'bind' | 'tmpfs', … })", m);
    const spec = m as Record<string, unknown>;
    const known = spec.type === 'bind' ? ['type', 'source', 'target', 'readonly', 'recursive'] : ['type', 'target', 'size', 'mode', 'inodes'];
    for (const key of Object.keys(spec)) {
      if (!known.includes(key)) throw invalidOption(`${name}.${key}`, `one of ${known.join(', ')} (misspelled?)`, key);
    }
    const target = checkContainerPath(`${name}.target`, spec.target);
    // Every process init starts writes /proc/self (oom_guard.h), and the
    // payload's tools need it: a file below it may be covered, not /proc.
    if (target === '/proc') throw invalidOption(`${name}.target`, NOT_PROC, spec.target);
    if (spec.type === 'bind') {
      if (typeof spec.source !== 'string' || spec.source === '' || spec.source.includes('\0')) {
        throw invalidOption(`${name}.source`, 'a host path', spec.source);
      }
      const source = resolve(spec.source);
      try {
        lstatSync(source);
      } catch (err) {
        throw new IsolateError('ERR_INVALID_OPTION', `Bind source ${source} (${name}.source) does not exist on the host`, {
          option: `${name}.source`,
          path: source,
          cause: err,
        });
      }
      // init binds what the path leads to (open_tree follows symlinks).
      try {
        statSync(source);
      } catch (err) {
        throw new IsolateError('ERR_INVALID_OPTION', `Bind source ${source} (${name}.source) is a symlink to nothing on the host (${(err as NodeJS.ErrnoException).code})`, {
          option: `${name}.source`,
          path: source,
          cause: err,
        });
      }
      for (const key of ['readonly', 'recursive'] as const) {
        if (spec[key] !== undefined && typeof spec[key] !== 'boolean') throw invalidOption(`${name}.${key}`, 'a boolean', spec[key]);
      }
      return { type: 'bind', source, target, readonly: spec.readonly === true, recursive: spec.recursive !== false };
    }
    if (spec.type === 'tmpfs') {
      const size = spec.size === undefined ? DEFAULT_TMP_SIZE : parseSize(`${name}.size`, spec.size);
      if (size === 0) throw invalidOption(`${name}.size`, 'a size above 0', spec.size);
      const mode = spec.mode ?? 0o1777;
      if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o7777) {
        throw invalidOption(`${name}.mode`, 'a file mode (an integer from 0 to 0o7777)', spec.mode);
      }
      const inodes = spec.inodes ?? tmpfsInodes(size);
      if (!Number.isSafeInteger(inodes) || (inodes as number) < 1 || (inodes as number) > MAX_INODES) {
        throw invalidOption(`${name}.inodes`, `a count of files and directories (an integer from 1 to ${MAX_INODES})`, spec.inodes);
      }
      return { type: 'tmpfs', target, size, mode: mode as number, inodes: inodes as number };
    }
    throw invalidOption(`${name}.type`, "'bind' or 'tmpfs'", spec.type);
  });
  // Parents before children, so a bind inside a tmpfs lands on the tmpfs;
  // errors keep naming the caller's index.
  const order = out.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.target) - depth(b.m.target));
  checkTargets(order, rootfs);
  checkTargetRoom(order, rootfs);
  return order.map(({ m }) => m);
}

/**
 * init reaches a target below the root it builds (LayerStack.setupRoot:
 * /tmp for the host root, the overlay's mount point for layers, which may
 * be in the caller's upperDir) until pivot_root, and the kernel takes paths
 * of at most PATH_MAX bytes: a longer one failed at start (mkdir:
 * ENAMETOOLONG).
 */
function checkTargetRoom(mounts: readonly { m: ResolvedMount; i: number }[], rootfs: LayerStack): void {
  // Only a target near PATH_MAX needs the root's path (a stat of the staging directory).
  if (!mounts.some(({ m }) => Buffer.byteLength(m.target) > MAX_PATH - 1 - 256)) return;
  const root = rootfs.setupRoot(stagingDir());
  const room = MAX_PATH - 1 - Buffer.byteLength(root);
  mounts.forEach(({ m, i }) => {
    if (Buffer.byteLength(m.target) > room) {
      throw invalidOption(`mounts[${i}].target`, `a path of at most ${room} bytes (init reaches it below ${root}, its setup root, and the kernel takes paths of at most ${MAX_PATH - 1})`, m.target);
    }
  });
}

/**
 * A working directory that cannot be there when its process starts:
 * missing, or not a directory, where nothing can make it. That is on the
 * host root (read-only) outside the container's tmpfs mounts, kernel
 * filesystems and `mounts`, and in a layered root before anything has run
 * (`fresh`: the main process; later ones may find what earlier ones made).
 * (Without a mount namespace the root is the host's own, writable by
 * whoever may: what is missing now may be made, but a later spawn() looks
 * again.) A symlink on the way is left to init, which resolves it inside
 * the root (it may lead into a tmpfs). Anything else fails at start:
 * ERR_SETUP_FAILED at `chdir`.
 */
export function checkCwdInRoot(cwd: string, option: string, rootfs: LayerStack, mounts: readonly ResolvedMount[], fresh: boolean, mntns: boolean): void {
  if (cwd === '/') return;
  if (KERNEL_MOUNTPOINTS.some((d) => isUnder(cwd, d)) || mounts.some((m) => isUnder(cwd, m.target))) return;
  let found: UnionKind | null = null;
  if (rootfs.kind === 'host') found = hostKind(cwd);
  else if (fresh) found = rootfs.kindOf(cwd);
  if (found === null || found.kind === 'symlink' || found.kind === 'directory') return;
  const where = rootfs.kind !== 'host' ? "the image's root" : mntns ? "the container's read-only root" : "the host's root, which the container shares (no 'mnt' namespace)";
  const what =
    found.kind === 'missing'
      ? `does not exist in ${where}`
      : found.kind === 'file'
        ? `is not a directory in ${where}`
        : `cannot be there: ${found.at} is not a directory in ${where}`;
  throw new IsolateError('ERR_INVALID_OPTION', `Working directory ${cwd} (${option}) ${what}; use an existing directory, or one under /tmp or a mount of your own`, {
    option,
    path: cwd,
  });
}

/** What `path` is on the host, one component at a time, never following a symlink; null where it cannot tell. */
function hostKind(path: string): UnionKind | null {
  const parts = path.split('/').filter((p) => p !== '');
  let at = '';
  for (let k = 0; k < parts.length; k++) {
    at += `/${parts[k]}`;
    let st;
    try {
      st = lstatSync(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'missing' };
      return null; // EACCES and the like: init says what the kernel says
    }
    if (st.isSymbolicLink()) return { kind: 'symlink', at };
    if (!st.isDirectory()) return k === parts.length - 1 ? { kind: 'file' } : { kind: 'blocked', at };
  }
  return { kind: 'directory' };
}

function depth(p: string): number {
  return p.split('/').length;
}

/**
 * A target must be creatable: inside a tmpfs the container makes, or an
 * existing path of a read-only root or of a bind's source. Host-root
 * targets are resolved through their symlinks here, because init would
 * resolve them against the host. init makes mount points only in a tmpfs:
 * one in a bind would be made in the host's directory (and outlive the
 * container), or fail there (a read-only bind: EROFS at start).
 */
function checkTargets(mounts: { m: ResolvedMount; i: number }[], rootfs: LayerStack): void {
  // Mounts already placed, parents first (the order init mounts them in).
  const placed: { m: ResolvedMount; i: number }[] = [];
  // For each tmpfs of `mounts` (by index): it, and the paths init makes in it, each an inode.
  const made = new Map<number, { tmpfs: Extract<ResolvedMount, { type: 'tmpfs' }>; paths: Set<string> }>();
  for (const { m, i } of mounts) {
    const within = placed.filter(({ m: p }) => isUnder(m.target, p.target) && m.target !== p.target).pop();
    const inDefault = DEFAULT_TMPFS.some((d) => isUnder(m.target, d));
    if (within && (!inDefault || within.m.target.length >= longestDefault(m.target).length)) {
      const w = within.m;
      if (w.type === 'tmpfs') {
        const entry = made.get(within.i) ?? { tmpfs: w, paths: new Set<string>() };
        const names = m.target.slice(w.target.length + 1).split('/');
        names.forEach((_, k) => entry.paths.add(`${w.target}/${names.slice(0, k + 1).join('/')}`));
        made.set(within.i, entry);
      } else {
        const where = `in the bind of ${w.source} (mounts[${within.i}])`;
        checkKind(m, i, w.source + m.target.slice(w.target.length), where, 'isolate-kit makes mount points only in a tmpfs, never in a host directory: make it there first, or use a path under /tmp');
      }
    } else if (!inDefault) {
      const hostPath = rootfs.hostPathFor(m.target);
      if (hostPath !== null) {
        const real = checkKind(m, i, hostPath, "in the container's read-only root", 'use an existing path or one under /tmp');
        if (real === '/') throw invalidOption(`mounts[${i}].target`, 'a path that does not resolve to /', m.target);
        if (real === '/proc') throw invalidOption(`mounts[${i}].target`, NOT_PROC, m.target);
        m.target = real;
      } else {
        checkImageKind(m, i, rootfs);
      }
    }
    placed.push({ m, i });
  }
  for (const [i, { tmpfs: t, paths }] of made) {
    if (paths.size + 1 > t.inodes) {
      throw new IsolateError(
        'ERR_INVALID_OPTION',
        `mounts[${i}] (tmpfs on ${t.target}) has ${t.inodes} inode${t.inodes > 1 ? 's' : ''}, but its root and the mount points made in it for other mounts (${[...paths].join(', ')}) take ${paths.size + 1}; give \`inodes\` of at least ${paths.size + 1}`,
        { option: `mounts[${i}].inodes`, path: t.target },
      );
    }
  }
}

/** The deepest of the container's default tmpfs mounts `target` lies in ('' for none). */
function longestDefault(target: string): string {
  return DEFAULT_TMPFS.filter((d) => isUnder(target, d)).reduce((a, b) => (b.length > a.length ? b : a), '');
}

/**
 * An existing mount point, `hostPath` on the host (`where` says where it
 * is, and `hint` what to do when it is missing, for messages): it must
 * exist, and be of the kind the mount needs. Returns it with its symlinks
 * resolved.
 */
function checkKind(m: ResolvedMount, i: number, hostPath: string, where: string, hint: string): string {
  let real: string;
  let isDir: boolean;
  try {
    real = realpathSync(hostPath);
    isDir = statSync(real).isDirectory();
  } catch (err) {
    throw new IsolateError('ERR_INVALID_OPTION', `Mount target ${m.target} does not exist ${where}; ${hint}`, { option: `mounts[${i}].target`, path: m.target, cause: err });
  }
  checkSameKind(m, i, isDir, where);
  return real;
}

/**
 * A target in an overlay root (init makes what is missing, in the writable
 * layer): what the image has there must be of the mount's kind, and no
 * file may stand on its way. A symlink on the way is left to init, which
 * resolves it inside the root (lib/image/union-kind.ts).
 */
function checkImageKind(m: ResolvedMount, i: number, rootfs: LayerStack): void {
  const found = rootfs.kindOf(m.target);
  if (found.kind === 'blocked') {
    throw new IsolateError('ERR_INVALID_OPTION', `Mount target ${m.target} (mounts[${i}].target) cannot be made in the image's root: ${found.at} is not a directory there`, {
      option: `mounts[${i}].target`,
      path: m.target,
    });
  }
  if (found.kind === 'directory' || found.kind === 'file') checkSameKind(m, i, found.kind === 'directory', "in the image's root");
}

/**
 * The kernel binds a directory only on a directory, anything else only on
 * a non-directory (move_mount: EINVAL, at start, after the namespaces were
 * made), and mounts a tmpfs on a directory. A target made in a tmpfs is
 * made of the source's kind, so only an existing one can differ.
 */
function checkSameKind(m: ResolvedMount, i: number, isDir: boolean, where: string): void {
  const kind = (dir: boolean) => (dir ? 'a directory' : 'not a directory');
  if (m.type === 'tmpfs' && !isDir) {
    throw new IsolateError('ERR_INVALID_OPTION', `Mount target ${m.target} (mounts[${i}].target) is not a directory ${where}; a tmpfs needs one`, {
      option: `mounts[${i}].target`,
      path: m.target,
    });
  }
  // (A source gone since resolveMounts() saw it fails at the start, with its step.)
  const sourceStat = m.type === 'bind' ? statSync(m.source, { throwIfNoEntry: false }) : undefined;
  if (m.type === 'bind' && sourceStat) {
    const [source, target] = [kind(sourceStat.isDirectory()), kind(isDir)];
    if (source !== target) {
      throw new IsolateError(
        'ERR_INVALID_OPTION',
        `Bind source ${m.source} (mounts[${i}].source) is ${source}, but its target ${m.target} is ${target} ${where}; bind a directory on a directory and a file on a file, or give a target under /tmp`,
        { option: `mounts[${i}].target`, path: m.target },
      );
    }
  }
}

export interface FilesystemPlan {
  rootfs: LayerStack;
  mounts: ResolvedMount[];
  /** Existing host directory init mounts the new root on before pivot_root. */
  staging: string;
  /** The container has its own network namespace. */
  ownNetwork: boolean;
  /** Make the root mount read-only once set up (a layered root is writable otherwise). */
  readonlyRootfs: boolean;
  /**
   * Steps to run last, just before pivot_root (given the staging root): the
   * cgroup steps, which wait for the group to be joined.
   */
  beforePivot?: (b: PlanBuilder, stagingRoot: string) => void;
}

/** v2: one cgroup2 mount; v1: a tmpfs with one mount per hierarchy the group is in. */
/**
 * What a container with a cgroup sees at /sys/fs/cgroup: v2, its group; v1,
 * each hierarchy it is in (`dir`: its group there), and `hostRoot`, the
 * host's tmpfs of hierarchies, when there is one to bind.
 */
export type CgroupfsView =
  | { version: 2 }
  | { version: 1; hierarchies: { name: string; controllers: string; dir: string }[]; hostRoot?: string };

/** Emits every filesystem op of a container, ending with pivot_root. */
export function planFilesystem(b: PlanBuilder, fs: FilesystemPlan): void {
  const root = fs.rootfs.planRoot(b, fs.staging);
  const at = (p: string) => (p === '/' ? root : `${root}${p}`);
  // A layered root may lack the kernel filesystems' mount points: init makes
  // them (the root is writable during setup; readonlyRootfs applies last).
  const mkdir = fs.rootfs.readonly ? 0 : OpFlag.Mkdir;
  // The kernel filesystems and what is in them: never through a link of the
  // image's (OpFlag.NoSymlinks says why).
  const kfs = OpFlag.NoSymlinks;

  const nosuidNodevNoexec = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  b.add(Op.Mount, { description: 'mount proc on /proc', path: '/proc' }, { flags: mkdir | kfs, str: ['proc', at('/proc'), 'proc'], num: [nosuidNodevNoexec] });

  // /dev: a tiny tmpfs with only harmless device nodes. mknod (init is
  // root) costs a fraction of a bind mount each, here and at teardown.
  b.add(Op.Mount, { description: 'mount tmpfs on /dev', path: '/dev' }, {
    flags: mkdir | kfs,
    str: ['tmpfs', at('/dev'), 'tmpfs', 'mode=0755,size=64k,nr_inodes=64'],
    num: [MS.NOSUID | MS.NOEXEC],
  });
  for (const [name, major, minor] of DEVICES) {
    b.add(Op.Mknod, { description: `mknod /dev/${name}`, path: `/dev/${name}` }, {
      flags: kfs,
      str: [undefined, at(`/dev/${name}`)],
      num: [S_IFCHR | 0o666, (major << 8) | minor],
    });
  }
  b.add(Op.Mkdir, { description: 'mkdir /dev/pts', path: '/dev/pts' }, { flags: kfs, str: [undefined, at('/dev/pts')], num: [0o755] });
  // Every devpts instance but the host's first draws on one pool
  // (kernel.pty.max less pty.reserve, 3,072 by default): without a max, one
  // container took them all and the others got ENOSPC.
  b.add(Op.Mount, { description: 'mount devpts on /dev/pts', path: '/dev/pts' }, {
    flags: kfs,
    str: ['devpts', at('/dev/pts'), 'devpts', `newinstance,ptmxmode=0666,mode=0620,max=${PTYS_MAX}`],
    num: [MS.NOSUID | MS.NOEXEC],
  });
  b.add(Op.Mkdir, { description: 'mkdir /dev/shm', path: '/dev/shm' }, { flags: kfs, str: [undefined, at('/dev/shm')], num: [0o1777] });
  b.add(Op.Mount, { description: 'mount tmpfs on /dev/shm', path: '/dev/shm' }, {
    flags: kfs,
    str: ['tmpfs', at('/dev/shm'), 'tmpfs', `mode=1777,size=${SHM_SIZE},nr_inodes=${tmpfsInodes(SHM_SIZE)}`],
    num: [nosuidNodevNoexec],
  });
  const links: [string, string][] = [
    ['pts/ptmx', '/dev/ptmx'],
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];
  for (const [to, p] of links) {
    b.add(Op.Symlink, { description: `symlink ${p} -> ${to}`, path: p }, { flags: kfs, str: [to, at(p)] });
  }

  // A fresh sysfs shows only the container's own network devices; without a
  // network namespace the kernel refuses a second sysfs (EBUSY), and the
  // host's, read-only from the root bind, stays.
  if (fs.ownNetwork) {
    b.add(Op.Mount, { description: 'mount sysfs on /sys', path: '/sys' }, {
      flags: mkdir | kfs,
      str: ['sysfs', at('/sys'), 'sysfs'],
      num: [MS.RDONLY | nosuidNodevNoexec],
    });
  }
  b.add(Op.Mount, { description: 'mount tmpfs on /tmp', path: '/tmp' }, {
    flags: OpFlag.Mkdir,
    str: ['tmpfs', at('/tmp'), 'tmpfs', `mode=1777,size=${DEFAULT_TMP_SIZE},nr_inodes=${tmpfsInodes(DEFAULT_TMP_SIZE)}`],
    num: [MS.NOSUID | MS.NODEV],
  });
  // /run holds the host's sockets (D-Bus, container engines): never show them.
  b.add(Op.Mount, { description: 'mount tmpfs on /run', path: '/run' }, {
    flags: OpFlag.Mkdir,
    str: ['tmpfs', at('/run'), 'tmpfs', `mode=0755,size=${RUN_SIZE},nr_inodes=${tmpfsInodes(RUN_SIZE)}`],
    num: [MS.NOSUID | MS.NODEV],
  });

  for (const p of existingOnHost(MASKED_PATHS)) {
    b.add(Op.Mask, { description: `mask ${p}`, path: p }, { flags: kfs, str: ['/dev/null', at(p)] });
  }
  for (const p of READONLY_PATHS) {
    b.add(Op.Readonly, { description: `make ${p} read-only`, path: p }, {
      flags: OpFlag.Recursive | kfs,
      str: [undefined, at(p)],
      num: [MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC],
    });
  }

  for (const m of fs.mounts) {
    if (m.type === 'bind') {
      const attrs = (m.readonly ? MOUNT_ATTR.RDONLY : 0) | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV;
      b.add(Op.Bind, { description: `bind ${m.source} on ${m.target}`, path: m.target }, {
        flags: OpFlag.Mkdir | OpFlag.Mkfile | (m.recursive ? OpFlag.Recursive : 0),
        str: [m.source, at(m.target)],
        num: [attrs],
      });
    } else {
      b.add(Op.Mount, { description: `mount tmpfs on ${m.target}`, path: m.target }, {
        flags: OpFlag.Mkdir,
        str: ['tmpfs', at(m.target), 'tmpfs', `mode=${m.mode.toString(8).padStart(4, '0')},size=${m.size},nr_inodes=${m.inodes}`],
        num: [MS.NOSUID | MS.NODEV],
      });
    }
  }
  fs.beforePivot?.(b, root);
  if (fs.readonlyRootfs && !fs.rootfs.readonly) {
    // In place, on the root mount alone: the mounts on it keep their own flags.
    b.add(Op.Readonly, { description: 'make / read-only', path: '/' }, { flags: OpFlag.InPlace, str: [undefined, root], num: [MOUNT_ATTR.RDONLY] });
  }
  b.add(Op.PivotRoot, { description: 'pivot_root into the new root', path: '/' }, { str: [undefined, root] });
}

/**
 * The container's cgroup, mounted read-only at /sys/fs/cgroup (inside its
 * cgroup namespace, so it sees its own group as the root), as Docker does:
 * runtimes size themselves from it (Node, the JVM, Go). Needs a fresh /sys.
 */
export function planCgroupfs(b: PlanBuilder, view: CgroupfsView, target: string): void {
  const ro = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  // In the fresh sysfs: never through a link (OpFlag.NoSymlinks).
  const flags = OpFlag.NoSymlinks;
  if (view.version === 2) {
    b.add(Op.Mount, { description: 'mount cgroup2 on /sys/fs/cgroup', path: '/sys/fs/cgroup' }, { flags, str: ['cgroup2', target, 'cgroup2'], num: [ro] });
    return;
  }
  const roAttrs = MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC;
  if (view.hostRoot !== undefined) {
    // Binds, no new filesystems: the host's tmpfs alone (its directories,
    // one per hierarchy, without what is mounted on them), then the group's
    // directory of each hierarchy on its own. Inside the cgroup namespace a
    // bind of the group reads as that hierarchy's root, as a cgroup mount
    // would; a new tmpfs and a cgroup mount per hierarchy cost twice as much
    // (the kernel makes a superblock for each).
    b.add(Op.Bind, { description: 'bind the host /sys/fs/cgroup (its directories only) on /sys/fs/cgroup', path: '/sys/fs/cgroup' }, {
      flags,
      str: [view.hostRoot, target],
      num: [roAttrs],
    });
    for (const h of view.hierarchies) {
      const p = `/sys/fs/cgroup/${h.name}`;
      b.add(Op.Bind, { description: `bind the cgroup (${h.controllers}) on ${p}`, path: p }, { flags, str: [h.dir, `${target}/${h.name}`], num: [roAttrs] });
    }
    return;
  }
  b.add(Op.Mount, { description: 'mount tmpfs on /sys/fs/cgroup', path: '/sys/fs/cgroup' }, {
    flags,
    str: ['tmpfs', target, 'tmpfs', 'mode=0755,size=16k,nr_inodes=32'],
    num: [MS.NOSUID | MS.NODEV | MS.NOEXEC],
  });
  // Mount points first, then the tmpfs read-only (in place: the mount
  // itself, not a read-only copy on top of a writable one), then the
  // hierarchies.
  for (const h of view.hierarchies) {
    const p = `/sys/fs/cgroup/${h.name}`;
    b.add(Op.Mkdir, { description: `mkdir ${p}`, path: p }, { flags, str: [undefined, `${target}/${h.name}`], num: [0o755] });
  }
  b.add(Op.Readonly, { description: 'make /sys/fs/cgroup read-only', path: '/sys/fs/cgroup' }, {
    flags: OpFlag.InPlace | flags,
    str: [undefined, target],
    num: [roAttrs],
  });
  for (const h of view.hierarchies) {
    const p = `/sys/fs/cgroup/${h.name}`;
    b.add(Op.Mount, { description: `mount cgroup (${h.controllers}) on ${p}`, path: p }, {
      flags,
      str: ['cgroup', `${target}/${h.name}`, 'cgroup', h.controllers],
      num: [ro],
    });
  }
}

const hostExists = new Map<string, boolean>();

/** The paths that exist in the host's /proc and /sys, which show the same kernel (cached). */
function existingOnHost(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    let known = hostExists.get(p);
    if (known === undefined) {
      try {
        lstatSync(p);
        known = true;
      } catch {
        known = false;
      }
      hostExists.set(p, known);
    }
    return known;
  });
}

let staging: string | undefined;

/** The host directory init stages the new root on (inside its own mount namespace only). */
export function stagingDir(): string {
  if (staging) return staging;
  for (const dir of ['/tmp', '/mnt', '/media']) {
    try {
      if (lstatSync(dir).isDirectory()) return (staging = dir);
    } catch {
      /* try the next */
    }
  }
  throw new IsolateError('ERR_UNSUPPORTED', 'None of /tmp, /mnt, /media is a directory on this host; init needs one to stage the container root');
}
