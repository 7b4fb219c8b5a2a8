import { readFileSync } from 'node:fs';
import { native } from './native';
import { MOUNT_ATTR, Op, OpFlag, PlanBuilder } from './plan';

/** Directories every container replaces with its own mounts: host mounts below them are not carried in. */
export const REPLACED_DIRS: readonly string[] = ['/proc', '/sys', '/dev', '/tmp', '/run'];

/**
 * Mount points directly below the host's root mount, except under
 * REPLACED_DIRS: what a container must see of the host besides / itself.
 * Binding them one by one, instead of all of / recursively, keeps the host's
 * /proc, /sys (with its cgroup mounts) and /dev copies out of every
 * container, which makes setup and teardown measurably cheaper.
 */
export function hostSubmounts(mountinfo: string = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const rows = mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 5)
    .map((f) => ({ id: f[0]!, parent: f[1]!, point: unescapeMountPath(f[4]!) }));
  const root = rows.filter((r) => r.point === '/').pop();
  if (!root) return [];
  const replaced = (p: string) => REPLACED_DIRS.some((d) => p === d || p.startsWith(`${d}/`));
  const seen = new Set<string>();
  for (const r of rows) if (r.parent === root.id && r.point !== '/' && !replaced(r.point)) seen.add(r.point);
  return [...seen];
}

let submounts: string[] | undefined;

/** hostSubmounts(), read again only when the kernel says the mount table changed. */
function cachedHostSubmounts(): string[] {
  if (submounts === undefined || native().mountsChanged()) submounts = hostSubmounts();
  return submounts;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The root filesystem of a container. */
export class LayerStack {
  /** 'host': the host's root, recursively bound read-only. */
  readonly kind: 'host';

  private constructor(kind: 'host') {
    this.kind = kind;
    Object.freeze(this);
  }

  /**
   * The embedded default: the host's root filesystem, every mount under it
   * included, bound read-only, nosuid and nodev. The container still gets its
   * own /proc, a minimal /dev, and private tmpfs on /tmp, /run and /dev/shm.
   */
  static host(): LayerStack {
    return hostStack;
  }

  /** True when the root itself can never be written (the host root: always). */
  get readonly(): boolean {
    return true;
  }

  /** @internal A path that must exist on the host for a mount target there, or null when the layer makes its own. */
  hostPathFor(target: string): string | null {
    return target;
  }

  /** @internal Emits the ops that put this root at `newRoot` (a path in init's pre-pivot view). */
  planRoot(b: PlanBuilder, newRoot: string): void {
    const attrs = MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV;
    b.add(Op.Bind, { description: 'bind the host root read-only on /', path: '/' }, { str: ['/', newRoot], num: [attrs] });
    for (const p of cachedHostSubmounts()) {
      // Optional: a host mount that went away since mountinfo was read is simply absent.
      b.add(Op.Bind, { description: `bind the host's ${p} read-only`, path: p }, {
        flags: OpFlag.Recursive | OpFlag.Optional,
        str: [p, `${newRoot}${p}`],
        num: [attrs],
      });
    }
  }
}

const hostStack = new (LayerStack as unknown as new (kind: 'host') => LayerStack)('host');
