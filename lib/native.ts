import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { IsolateError, fromSystemError } from './errors';

/** Records init sends about a process (csrc/ik_proto.h), plus init's own exit. */
export const enum NativeEvent {
  Ready = 1,
  Fail = 2,
  Exit = 3,
  /** The container's writable layer, as an O_PATH fd in `a` (the callee owns it); -1 when none came (b = 1: dropped on its way, our fd table full). First only. */
  Hold = 4,
  InitExit = 100,
}

/** id of the container itself in Fail records (csrc/ik_proto.h IK_ID_CONTAINER). */
export const CONTAINER_ID = 0xffffffff;

/**
 * Callback of a container handle: (event, id, a, b, c, utimeUs, stimeUs, maxrssKb, atMs).
 * Ready: a = pid inside. Fail: a = step index, b = IK_SC_*, c = errno.
 * Exit: a = wait status. InitExit: a = si_code (CLD_*), b = si_status.
 * atMs: CLOCK_MONOTONIC in ms when it happened (Ready, Exit: taken by init;
 * InitExit: when the addon saw it), 0 for Fail.
 */
export type NativeCallback = (
  event: NativeEvent,
  id: number,
  a: number,
  b: number,
  c: number,
  utimeUs: number,
  stimeUs: number,
  maxrssKb: number,
  atMs: number,
) => void;

/** stdio spec per fd: an fd to pass as is, -1 for a new pipe, -2 for /dev/null. */
export type NativeStdio = [number, number, number];

export interface NativeHandle {
  /** Signals init (pidfd_send_signal); returns 0 or errno. */
  signal(sig: number): number;
  /** Asks init to signal process `id` (and its descendants when `tree`; CONTAINER_ID: every process); returns 0 or errno. */
  signalProcess(id: number, sig: number, tree: boolean): number;
  /** SIGKILL to every process of init's pid namespace from here, found in the host's /proc (csrc/pidns_kill.h); init too unless `spareInit`. How many were signalled, or -errno. */
  killNamespace(spareInit: boolean): number;
  /** SIGKILL to process `pid` of init's pid namespace (its number there), its descendants and its process group, each stopped first, from here (csrc/pidns_kill.h). How many were killed, or -errno. */
  killTree(pid: number): number;
  /** Asks init to start process `id` from a process-only plan; returns our ends of new pipes (-1 where none). */
  spawnProcess(id: number, plan: Buffer, stdio: NativeStdio): NativeStdio;
  ref(): void;
  unref(): void;
  /** No more callbacks; kills init if it still runs (it is still reaped). */
  close(): void;
  /** The container's own group (its directories), removed natively if this environment (a worker thread) ends with init still running. */
  removeAtTeardown(dirs: string[]): void;
}

export interface NativeBinding {
  loadInit(path: string): void;
  /**
   * cgroupPaths: [cgroup v2 dir for CLONE_INTO_CGROUP or '', ...cgroup.procs
   * files to join]; each a path or an fd opened ahead (used through a dup).
   */
  spawn(nsFlags: number, plan: Buffer, stdio: NativeStdio, callback: NativeCallback, cgroupPaths?: (string | number)[]): {
    pid: number;
    handle: NativeHandle;
    stdio: NativeStdio;
  };
  /** unshare(flags) in a throw-away child: 0 or errno. */
  probeUnshare(flags: number): number;
  /** null when libseccomp.so.2 can be loaded, else why not. */
  libseccomp(): string | null;
  /** A resolved seccomp profile (lib/seccomp-profile.ts) compiled by libseccomp: BPF, and the rules whose syscall it does not know. Throws an errno error (`syscall`: the failed call, `rule`: the refused rule). */
  compileSeccomp(defaultAction: number, badArchAction: number, arches: number[], rules: [number, string, number[]][]): { bpf: Buffer; unknown: number[] };
  /** The kernel's Landlock ABI version, or -errno (-ENOSYS: not built in; -EOPNOTSUPP: not enabled at boot). */
  landlockAbi(): number;
  /** Watches fd (which it then owns): mode 0 an eventfd, 1 a cgroup file's POLLPRI notifications. Never keeps the loop alive. */
  watchFd(fd: number, mode: 0 | 1, callback: () => void): { close(): void };
  /** Replaces the cgroup v2 device filter of dirFd: rules [type 'a'|'b'|'c', major, minor (-1 any), access bits m=1 r=2 w=4]; 0 or errno. */
  setDeviceFilter(dirFd: number, rules: [string, number, number, number][]): number;
  /** Each file read whole (null where it cannot be); an fd entry is read with pread from offset 0. */
  readFiles(paths: (string | number)[]): (string | null)[];
  /** open() of each path, close-on-exec; modes one char per path: 'r', 'w' or 'd' (directory). fd or -errno each. */
  openFiles(paths: string[], modes: string): number[];
  /** open, one write of the whole value, close: each path in order; null, or [index, errno] of the first failure. */
  writeFiles(paths: string[], values: string[]): [number, number] | null;
  /** Holds each directory open (O_PATH); cgroup paths under one are then reached from it, not walked from the root through sysfs. -errno per directory (0: held). */
  cgroupDirs(dirs: string[]): number[];
  /** The fds cgroupDirs() holds. */
  cgroupDirFds(): number[];
  /** This process's owner mark at `path` (lib/cgroup/owner.ts): made (0700), opened and flock()ed shared once per process, whichever thread asks; its fd, or -errno. */
  holdMark(path: string): number;
  /** The owner marks held: [path, fd]. */
  marks(): [string, number][];
  /** Closes the mark at `path` (every one when null), removing its directory with `remove`. */
  releaseMarks(path: string | null, remove: boolean): void;
  /** close() of each fd (negative ones skipped). */
  closeFds(fds: number[]): void;
  /** flock(fd, LOCK_EX | LOCK_NB), or LOCK_SH when `shared`: 0, or -errno (-EWOULDBLOCK when another open file holds it). */
  tryLock(fd: number, shared?: boolean): number;
  /** mknod(2); mode includes the file type (S_IFCHR 0o020000, S_IFBLK 0o060000, S_IFIFO 0o010000). Throws an ErrnoException. */
  mknod(path: string, mode: number, dev: number): void;
  /** lsetxattr(2) (never follows a symlink). Throws an ErrnoException. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2): the value, or null when absent (ENODATA) or unsupported (ENOTSUP). */
  lgetxattr(path: string, name: string): Buffer | null;
  /** mkdir 0755 of each path in order: null, or [index, errno] of the first failure. */
  mkdirs(paths: string[]): [number, number] | null;
  /** rmdir of each path: errno per path (0: removed or already gone). */
  rmdirs(paths: string[]): number[];
  /** A new eventfd (close-on-exec, non-blocking). */
  eventfd(): number;
  /** This process's open fds (for leak checks). */
  openFds(): number[];
  /** getrlimit(2) of this process: [soft, hard] (RLIM_INFINITY as 2^64-1). Throws an ErrnoException. */
  getrlimit(resource: number): [bigint, bigint];
  /** Whether the mount table changed since the last call (true the first time). */
  mountsChanged(): boolean;
  /**
   * Netlink sockets made in containers that have ended and are still open
   * somewhere (passed out to another container): csrc/netlink_ledger.h.
   * An upper bound, recounted once it reaches NETLINK_ORPHANS_MAX, or
   * exact (each kept set read again) with `exact`.
   */
  netlinkOrphans(exact?: boolean): number;
  /** NETLINK_ROUTE sockets one container may hold at once (csrc/init/netlink_guard.h). */
  readonly NETLINK_SOCKETS_MAX: number;
  /** Sockets of ended containers still open at which new containers get none (csrc/netlink_ledger.h). */
  readonly NETLINK_ORPHANS_MAX: number;
}

/** EMFILE or ENFILE: the process's or the system's fd table is full, for now. */
function isFdExhaustion(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** The package's root directory (the one with our package.json). Throws the system error when the fd table is full. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'isolate-kit') return dir;
      } catch (err) {
        // A full fd table is not "no package here": looking on would end at
        // the fallback below, and the files would be reported not built.
        if (isFdExhaustion(err)) throw err;
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) return join(__dirname, '..');
    dir = up;
  }
}

let binding: NativeBinding | undefined;
let initLoaded = false;

/** Loads the addon (once), saying every path it tried when it cannot. */
export function native(): NativeBinding {
  if (binding) return binding;
  if (process.platform !== 'linux') {
    throw new IsolateError('ERR_UNSUPPORTED', `isolate-kit runs on Linux only (this is ${process.platform})`);
  }
  let root: string;
  try {
    root = packageRoot();
  } catch (err) {
    throw fromSystemError('ERR_NATIVE', 'Cannot load the isolate-kit addon', err);
  }
  const tried: string[] = [];
  for (const dir of candidateDirs(root)) {
    const file = join(dir, 'isolate_kit.node');
    tried.push(file);
    if (!existsSync(file)) continue;
    try {
      binding = require(file) as NativeBinding;
      return binding;
    } catch (err) {
      throw new IsolateError('ERR_NATIVE', `Cannot load the isolate-kit addon ${file}: ${(err as Error).message}`, {
        cause: err,
        path: file,
      });
    }
  }
  throw new IsolateError(
    'ERR_NATIVE',
    `The isolate-kit addon is not built; tried ${tried.join(', ')}. Run \`npm rebuild isolate-kit\` (needs python3, make and a C compiler).`,
  );
}

function candidateDirs(root: string): string[] {
  const dirs = [join(root, 'build', 'Release'), join(root, 'build', 'Debug')];
  const override = process.env.ISOLATE_KIT_NATIVE_DIR;
  return override ? [override, ...dirs] : dirs;
}

/** The addon with init loaded, ready to spawn containers. */
export function nativeForSpawn(): NativeBinding {
  const b = native();
  if (!initLoaded) {
    const tried: string[] = [];
    let root: string;
    try {
      root = packageRoot();
    } catch (err) {
      // A full fd table at the first start: that start fails as any other
      // meeting it does (errors.md), not as a missing build.
      throw fromSystemError('ERR_SETUP_FAILED', 'Cannot start the container', err);
    }
    for (const dir of candidateDirs(root)) {
      const file = join(dir, 'isolate-kit-init');
      tried.push(file);
      if (!existsSync(file)) continue;
      try {
        b.loadInit(file);
      } catch (err) {
        if (isFdExhaustion(err)) throw fromSystemError('ERR_SETUP_FAILED', 'Cannot start the container', err, { path: file });
        throw new IsolateError('ERR_NATIVE', `Cannot load the container init ${file}: ${(err as Error).message}`, {
          cause: err,
          path: file,
        });
      }
      initLoaded = true;
      return b;
    }
    throw new IsolateError('ERR_NATIVE', `The container init binary is not built; tried ${tried.join(', ')}`);
  }
  return b;
}
