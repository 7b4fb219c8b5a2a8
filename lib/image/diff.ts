/**
 * What a container changed, from its writable layer, like `docker diff`:
 * A (added), C (changed), D (deleted), one line per path, sorted. A
 * directory that exists below and holds a change is C, as Docker reports it.
 */
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isOpaque, isWhiteout } from './overlay-format';

export interface Change {
  kind: 'A' | 'C' | 'D';
  /** Absolute path inside the container. */
  path: string;
}

function lstat(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Whether `rel` is visible in the union of `lowers` (top first): the first
 * layer that has it decides (a whiteout there hides it); an opaque directory
 * on the way hides everything of the layers below it.
 */
export function inLowers(lowers: readonly string[], rel: string): boolean {
  const parts = rel.split('/').filter(Boolean);
  for (const layer of lowers) {
    const st = lstat(join(layer, rel));
    if (st) return !isWhiteout(st);
    // Not here: an opaque ancestor in this layer hides the layers below.
    let dir = layer;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      if (lstat(dir)?.isDirectory() && isOpaque(dir)) return false;
    }
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
  if (st.isDirectory()) return readdirSync(join(upper, rel)).length === 0;
  return st.isFile() && st.size === 0;
}

/**
 * The changes recorded in `upper` (overlay format) over `lowers` (top
 * first), leaving out the mount points setup made (`mountpoints`, absolute).
 */
export function diffUpper(upper: string, lowers: readonly string[], mountpoints: ReadonlySet<string> = new Set()): Change[] {
  const out: Change[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(upper, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(upper, r));
      if (isSetupMountpoint(upper, lowers, r, st, mountpoints)) continue;
      if (isWhiteout(st)) {
        if (inLowers(lowers, r)) out.push({ kind: 'D', path: `/${r}` });
        continue;
      }
      out.push({ kind: inLowers(lowers, r) ? 'C' : 'A', path: `/${r}` });
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}
