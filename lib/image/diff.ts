/**
 * What a container changed, from its writable layer, like `docker diff`:
 * A (added), C (changed), D (deleted), one line per path, sorted. A
 * directory that exists below and holds a change is C, as Docker reports it.
 *
 * The writable layer may be changing as we read it (a running container),
 * and the layers below may hold symlinks of their own: paths are resolved
 * one component at a time without following symlinks (beneath.ts), so no
 * look reaches outside the layers.
 */
import { closeSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { dirBeneath, fdPath, openDirIn, openRoot } from './beneath';
import { isOpaque, isWhiteout } from './overlay-format';

export interface Change {
  kind: 'A' | 'C' | 'D';
  /** Absolute path inside the container. */
  path: string;
}

/** What one lower layer says of `parts`: has it, has a whiteout, hides it below (an opaque directory on the way), or nothing. */
function inLayer(layer: string, parts: readonly string[]): 'has' | 'whiteout' | 'opaque' | 'none' {
  const fds: number[] = [];
  let opaque = false;
  try {
    fds.push(openRoot(layer));
    for (const part of parts.slice(0, -1)) {
      try {
        fds.push(openDirIn(fds[fds.length - 1]!, part));
      } catch {
        return opaque ? 'opaque' : 'none'; // not a directory here (or a symlink): nothing below it
      }
      if (isOpaque(`${fdPath(fds[fds.length - 1]!)}/.`)) opaque = true;
    }
    let st: Stats;
    try {
      st = lstatSync(fdPath(fds[fds.length - 1]!, parts[parts.length - 1]!));
    } catch {
      return opaque ? 'opaque' : 'none';
    }
    return isWhiteout(st) ? 'whiteout' : 'has';
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/**
 * Whether `rel` is visible in the union of `lowers` (top first): the first
 * layer that has it decides (a whiteout there hides it); an opaque directory
 * on the way hides everything of the layers below it.
 */
export function inLowers(lowers: readonly string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  if (parts.length === 0) return true;
  for (const layer of lowers) {
    const seen = inLayer(layer, parts);
    if (seen === 'has') return true;
    if (seen === 'whiteout' || seen === 'opaque') return false;
  }
  return false;
}

/**
 * Whether an entry of the writable layer is only a mount point that setup
 * made (/proc, /tmp, a bind's target, … where the layers lack them): an
 * empty directory or file that is not in the layers. Docker keeps these in
 * an "init" layer of its own; here they are left out of diff and commit.
 */
export function isSetupMountpoint(upper: string, lowers: readonly string[], rel: string, st: Stats, mountpoints: ReadonlySet<string>): boolean {
  if (!mountpoints.has(`/${rel}`) || inLowers(lowers, rel)) return false;
  if (st.isDirectory()) return dirBeneath(upper, rel, (p) => readdirSync(p).length === 0);
  return st.isFile() && st.size === 0;
}

/**
 * The changes recorded in `upper` (overlay format) over `lowers` (top
 * first), leaving out the mount points setup made (`mountpoints`, absolute).
 */
export function diffUpper(upper: string, lowers: readonly string[], mountpoints: ReadonlySet<string> = new Set()): Change[] {
  const out: Change[] = [];
  const walk = (dirFd: number, rel: string) => {
    for (const name of readdirSync(fdPath(dirFd)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      let st: Stats;
      try {
        st = lstatSync(fdPath(dirFd, name));
      } catch {
        continue; // removed meanwhile
      }
      if (isSetupMountpoint(upper, lowers, r, st, mountpoints)) continue;
      if (isWhiteout(st)) {
        if (inLowers(lowers, r)) out.push({ kind: 'D', path: `/${r}` });
        continue;
      }
      out.push({ kind: inLowers(lowers, r) ? 'C' : 'A', path: `/${r}` });
      if (!st.isDirectory()) continue;
      let child: number;
      try {
        child = openDirIn(dirFd, name);
      } catch {
        continue; // no longer a directory: swapped meanwhile
      }
      try {
        walk(child, r);
      } finally {
        closeSync(child);
      }
    }
  };
  const root = openRoot(upper);
  try {
    walk(root, '');
  } finally {
    closeSync(root);
  }
  return out;
}
