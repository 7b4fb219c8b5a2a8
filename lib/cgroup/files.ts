/**
 * Reading and writing cgroup control files. Writes name the limit that the
 * kernel refused; stats() reads its files in one native call.
 */
import { closeSync, existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { IsolateError, describeErrno } from '../errors';
import { native } from '../native';
import { fdPath, openDirIn, openRoot } from '../image/beneath';

/**
 * Writes `value` to a control file (through `fd` when it was opened ahead);
 * a refusal becomes an IsolateError naming `option`.
 */
export function writeControl(path: string, value: string, option: string, fd?: number): void {
  try {
    if (fd === undefined) writeFileSync(path, value);
    else writeSync(fd, value);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const code = e.code === 'EINVAL' || e.code === 'ERANGE' || e.code === 'ENODEV' || e.code === 'EBUSY' ? 'ERR_INVALID_OPTION' : e.code === 'EACCES' || e.code === 'EPERM' ? 'ERR_PERMISSION' : 'ERR_SETUP_FAILED';
    throw new IsolateError(code, `The kernel refused \`${option}\`: writing ${JSON.stringify(value.trim())} to ${basename(path)}: ${e.code}`, {
      option,
      path,
      syscall: 'write',
      errnoCode: e.code,
      cause: err,
    });
  }
}

export function readControl(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
}

/** "key value" lines (cpu.stat, memory.events, memory.oom_control) → numbers. */
export function keyValues(text: string | undefined): Map<string, number> {
  const m = new Map<string, number>();
  if (!text) return m;
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

/** The number after `key ` on a line of a "key value" file, or undefined (keyValues for one key, without a Map). */
export function valueOf(text: string | undefined, key: string): number | undefined {
  if (!text) return undefined;
  const first = text.startsWith(`${key} `);
  const line = first ? 0 : text.indexOf(`\n${key} `) + 1;
  if (!first && line === 0) return undefined;
  const at = line + key.length + 1;
  const end = text.indexOf('\n', at);
  return Number(text.slice(at, end < 0 ? undefined : end));
}

/** A number file ('max' → null); undefined when the file is missing. */
export function numberOf(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return t === 'max' ? null : Number(t);
}

/**
 * Reads cgroup files in one native call (open, read, close each, in C: a
 * few µs per file instead of a few syscalls' worth of JS each). Inside
 * `batch()`, reads come from one such call made up front.
 *
 * Files opened ahead of time (a pooled group's, see pool.ts) are held here
 * by path and read through their fd: a pread instead of a path walk, and
 * none of the first open's inode setup, which in a new group costs more
 * than the read itself.
 */
export class CgroupReader {
  private cache: Map<string, string | undefined> | undefined;
  private readonly opened = new Map<string, number>();

  /** Takes ownership of fds opened ahead (path → fd). */
  adopt(fds: ReadonlyMap<string, number>): void {
    for (const [p, fd] of fds) this.opened.set(p, fd);
  }

  /** Where write() notes writes instead of making them (record()). */
  private sink: [string, string][] | undefined;

  /** writeControl, through the fd opened ahead for `path` if there is one; while recording, only noted. */
  write(path: string, value: string, option: string): void {
    if (this.sink) this.sink.push([path, value]);
    else writeControl(path, value, option, this.opened.get(path));
  }

  /** The writes (file, value) that `fn` makes through write(), noted, not made. */
  record(fn: () => void): [string, string][] {
    const out: [string, string][] = [];
    this.sink = out;
    try {
      fn();
    } finally {
      this.sink = undefined;
    }
    return out;
  }

  /** Gives up the fds opened ahead for `paths` (the caller owns them now). */
  release(paths: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of paths) {
      const fd = this.opened.get(p);
      if (fd === undefined) continue;
      out.set(p, fd);
      this.opened.delete(p);
    }
    return out;
  }

  /** The fd opened ahead for `path`, if any (still owned here). */
  fdFor(path: string): number | undefined {
    return this.opened.get(path);
  }

  /**
   * Closes the fds opened ahead now, but those of `keep` (reads then open by
   * path). Called before their group's directories are removed: a cgroup
   * file still open when its directory goes keeps its dentry, inode and
   * kernfs node in the kernel's caches after the close, until memory
   * pressure: ~7 per container, 4.9 million (~4.7 GB of slab) after a day of
   * containers on this project's VM, which slowed every cgroup mkdir and
   * open with it.
   */
  closeNow(keep: readonly string[] = []): void {
    const fds: number[] = [];
    for (const [p, fd] of this.opened) {
      if (keep.includes(p)) continue;
      fds.push(fd);
      this.opened.delete(p);
    }
    if (fds.length > 0) native().closeFds(fds);
  }

  /**
   * Lets go of the fds opened ahead (reads then open by path), in the next
   * turn of the event loop: for files whose directories stay (a group that
   * could not be removed yet). Before a removal, closeNow().
   */
  closeAll(): void {
    if (this.opened.size === 0) return;
    closeSoon(this.opened.values());
    this.opened.clear();
  }

  read(path: string): string | undefined {
    if (this.cache) return this.cache.get(path);
    return native().readFiles([this.opened.get(path) ?? path])[0] ?? undefined;
  }

  /** Runs `fn` with `paths` read at once. */
  batch<T>(paths: string[], fn: () => T): T {
    return this.using(this.snapshot(paths), fn);
  }

  /** `paths` read at once: path → text (undefined where unreadable). */
  snapshot(paths: string[]): Map<string, string | undefined> {
    const texts = native().readFiles(paths.map((p) => this.opened.get(p) ?? p));
    return new Map(paths.map((p, i) => [p, texts[i] ?? undefined]));
  }

  /** Runs `fn` with reads answered from `texts` (a snapshot). */
  using<T>(texts: Map<string, string | undefined>, fn: () => T): T {
    this.cache = texts;
    try {
      return fn();
    } finally {
      this.cache = undefined;
    }
  }
}

let toClose: number[] = [];

/** Closes `fds` in the next turn of the event loop (setImmediate), all in one native call. */
function closeSoon(fds: Iterable<number>): void {
  if (toClose.length === 0) {
    setImmediate(() => {
      const fds = toClose;
      toClose = [];
      native().closeFds(fds);
    });
  }
  toClose.push(...fds);
}

/** fds let go of but not closed yet (leak checks wait for them). */
export function closingCgroupFds(): number[] {
  return [...toClose];
}

/** mkdir of every path (in order); on a failure, removes the ones made and throws. */
export function makeDirs(paths: string[]): void {
  if (paths.length === 0) return; // (a pooled group: all made ahead)
  const failed = native().mkdirs(paths);
  if (!failed) return;
  const [index, errno] = failed;
  native().rmdirs(paths.slice(0, index));
  const [name, text] = describeErrno(errno);
  throw new IsolateError('ERR_SETUP_FAILED', `Cannot create the cgroup ${paths[index]}: mkdir: ${name} (${text})`, {
    path: paths[index],
    syscall: 'mkdir',
    errno,
    errnoCode: name,
  });
}

/** rmdir of every path: true when all are gone, false while processes remain (EBUSY). */
export function removeDirs(paths: string[]): boolean {
  const errs = native().rmdirs(paths);
  let gone = true;
  errs.forEach((e, i) => {
    if (e === 0) return;
    if (e === 16 /* EBUSY */) {
      gone = false;
      return;
    }
    const [name, text] = describeErrno(e);
    throw new IsolateError('ERR_STATE', `Cannot remove the cgroup ${paths[i]}: rmdir: ${name} (${text})`, { path: paths[i], syscall: 'rmdir', errno: e, errnoCode: name });
  });
  return gone;
}

/** rmdir; false when the cgroup still has processes (EBUSY), true when gone. */
export function removeDir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EBUSY') return false;
    throw err;
  }
}

/**
 * Whether a control file exists, looked at once per path: which files a
 * group has is fixed by the kernel's build and boot options (swap
 * accounting, TCP accounting), so a parent's answer holds for every group.
 */
const presentFiles = new Map<string, boolean>();
export function hasControlFile(path: string): boolean {
  let has = presentFiles.get(path);
  if (has === undefined) presentFiles.set(path, (has = existsSync(path)));
  return has;
}

/** pids listed in a cgroup.procs file. */
export function pidsIn(procsFile: string): number[] {
  const text = readControl(procsFile);
  if (!text) return [];
  // v2 lists a process outside the reader's pid namespace as 0 (v1 leaves
  // it out): a 0 passed on to process.kill() would signal our own process
  // group, Node included.
  return text
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
}

/**
 * Groups a payload made below its own (uid 0 with its own cgroup mount, on
 * v2) are walked through directory fds, one level at a time, never by
 * path: their names can take the host's path to them past PATH_MAX
 * (ENAMETOOLONG), which made such a group impossible to remove. The walk
 * goes WALK_DEPTH levels down at most (v2 groups allow SUBTREE_DEPTH below
 * them: cgroup.ts), so it holds that many fds at most.
 */
const WALK_DEPTH = 64;

/** Calls `fn` with an fd of every directory below `dir` (not `dir` itself), parents before children; `after` (if given) children first. */
function walkBelow(dir: string, fn: ((fd: number, name: string, parentFd: number) => void) | undefined, after?: (name: string, parentFd: number) => void): void {
  let top: number;
  try {
    top = openRoot(dir);
  } catch {
    return; // gone
  }
  const visit = (fd: number, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(fdPath(fd), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const name of names) {
      let sub: number;
      try {
        sub = openDirIn(fd, name);
      } catch {
        continue; // gone meanwhile
      }
      try {
        fn?.(sub, name, fd);
        if (depth < WALK_DEPTH) visit(sub, depth + 1);
      } finally {
        closeSync(sub);
      }
      after?.(name, fd);
    }
  };
  try {
    visit(top, 1);
  } finally {
    closeSync(top);
  }
}

/** pids listed in a group's cgroup.procs and in those of the groups below it. */
export function pidsBelow(dir: string): number[] {
  const out = pidsIn(`${dir}/cgroup.procs`);
  walkBelow(dir, (fd) => out.push(...pidsIn(`${fdPath(fd)}/cgroup.procs`)));
  return out;
}

/** The names of the directories right inside a group: groups a payload made below its own. */
export function subgroups(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function tryWrite(file: string, value: string): void {
  try {
    if (existsSync(file)) writeFileSync(file, value);
  } catch {
    /* gone, or not frozen */
  }
}

/**
 * Lets a group's processes die, for a removal that found it busy: thaws it
 * (a frozen process cannot die: v2 cgroup.freeze, or this directory is the
 * v1 freezer's) and, with `kill`, kills what runs in it and in groups below
 * it (cgroup.kill where the kernel has it, else SIGKILL by pid).
 */
export function stopGroup(dir: string, kill = true): void {
  tryWrite(`${dir}/cgroup.freeze`, '0');
  tryWrite(`${dir}/freezer.state`, 'THAWED');
  // A group below that froze itself stays frozen when its parent thaws (v2).
  thawBelow(dir);
  if (!kill) return;
  if (existsSync(`${dir}/cgroup.kill`)) {
    tryWrite(`${dir}/cgroup.kill`, '1');
    return;
  }
  for (const pid of pidsBelow(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Thaws every group below `dir` (v2 cgroup.freeze, v1 freezer.state): frozen, their processes could not die. Whether any was frozen. */
export function thawBelow(dir: string): boolean {
  let frozen = false;
  walkBelow(dir, (fd) => {
    const d = fdPath(fd);
    if (readControl(`${d}/cgroup.freeze`)?.trim() === '1' || (readControl(`${d}/freezer.state`)?.trim() ?? 'THAWED') !== 'THAWED') frozen = true;
    tryWrite(`${d}/cgroup.freeze`, '0');
    tryWrite(`${d}/freezer.state`, 'THAWED');
  });
  return frozen;
}

/** rmdir of the groups a payload made below `dir` (deepest first); those that will not go stay (whyBusy() says). */
export function removeSubgroups(dir: string): void {
  walkBelow(dir, undefined, (name, parentFd) => {
    try {
      rmdirSync(fdPath(parentFd, name));
    } catch {
      /* busy, or gone: the group's own rmdir says */
    }
  });
}

/**
 * rmdir of a group and, first, of the groups a payload made below it
 * (deepest first): true once it is gone, false while processes remain.
 */
export function removeTree(dir: string): boolean {
  removeSubgroups(dir);
  return removeDir(dir);
}

/** Why a group cannot be removed yet, for messages: its processes, or groups made below it. */
export function whyBusy(dir: string): string {
  const pids = pidsBelow(dir);
  if (pids.length > 0) return `processes ${pids.join(', ')} do not die`;
  const subs = subgroups(dir);
  if (subs.length > 0) return `groups made inside it remain (${subs.map((n) => `${dir}/${n}`).join(', ')})`;
  return 'the kernel still counts exiting processes in it';
}
