/**
 * Looking inside a directory tree that may hold symlinks of its own (an
 * image's layer: `etc -> /host/path`) or that a hostile payload changes
 * while we look (a running container's writable layer, where it can swap a
 * directory for a symlink between our lstat and our readdir): one path
 * component at a time, through directory fds, never following a symlink,
 * so nothing outside the tree is reached. A path through a symlink reads as
 * absent. (openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS without a native
 * call: each step opens `/proc/self/fd/<dir>/<name>` with O_NOFOLLOW, and
 * the link /proc/self/fd/<dir> is that directory, wherever it is now.)
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readFileSync, type Stats } from 'node:fs';

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW;

/** The path of directory fd `fd` (or of `name` in it, its last component not followed). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** Opens `root` itself (followed: it may be a link, as /proc/self/fd/N). */
export function openRoot(root: string): number {
  return openSync(root, fsc.O_RDONLY | fsc.O_DIRECTORY);
}

/** Opens directory `name` in `dirFd`; throws (ELOOP, ENOTDIR, ENOENT) when it is a symlink, not a directory, or gone. */
export function openDirIn(dirFd: number, name: string): number {
  return openSync(fdPath(dirFd, name), DIR_FLAGS);
}

/**
 * Calls `fn` with an fd of directory `dirs` (components) under `root`;
 * undefined when one on the way is missing, a symlink or not a directory.
 */
function inDir<T>(root: string, dirs: readonly string[], fn: (dirFd: number) => T): T | undefined {
  if (dirs.includes('..')) return undefined;
  const fds: number[] = [];
  try {
    fds.push(openRoot(root));
    for (const part of dirs) fds.push(openDirIn(fds[fds.length - 1]!, part));
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw err;
  }
  try {
    return fn(fds[fds.length - 1]!);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function components(rel: string): string[] {
  return rel.split('/').filter((p) => p !== '' && p !== '.');
}

/** `fn` with an fd of `rel`'s parent directory and its last component (see inDir). */
function inParent<T>(root: string, rel: string, fn: (dirFd: number, name: string) => T): T | undefined {
  const parts = components(rel);
  if (parts.length === 0 || parts[parts.length - 1] === '..') return undefined;
  return inDir(root, parts.slice(0, -1), (fd) => fn(fd, parts[parts.length - 1]!));
}

/** lstat of `rel` under `root`, reached without following a symlink; undefined when absent that way. */
export function lstatBeneath(root: string, rel: string): Stats | undefined {
  return inParent(root, rel, (fd, name) => {
    try {
      return lstatSync(fdPath(fd, name));
    } catch {
      return undefined;
    }
  });
}

/** Whether `rel` under `root` is a directory reached without a symlink and `test` holds for it (given a path that reaches it). */
export function dirBeneath(root: string, rel: string, test: (path: string) => boolean): boolean {
  return inDir(root, components(rel), (fd) => test(`${fdPath(fd)}/.`)) ?? false;
}

/** The text of regular file `rel` under `root`, reached without following a symlink; undefined otherwise. */
export function readFileBeneath(root: string, rel: string): string | undefined {
  return inParent(root, rel, (dirFd, name) => {
    let fd: number;
    try {
      fd = openSync(fdPath(dirFd, name), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      return fstatSync(fd).isFile() ? readFileSync(fd, 'utf8') : undefined;
    } finally {
      closeSync(fd);
    }
  });
}
