import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { IsolateError, invalidOption } from './errors';
import { unionKind, type UnionKind } from './image/union-kind';
import { native } from './native';
import { MOUNT_ATTR, MS, Op, OpFlag, PlanBuilder } from './plan';
import { tmpfsInodes } from './tmpfs';
import { parseSize, type Size } from './units';

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

/** Options of LayerStack.fromDirectories(). */
export interface OverlayOptions {
  /**
   * Size of the writable layer: a tmpfs private to the container that holds
   * what it writes (and overlayfs's work dir). A write past it fails with
   * ENOSPC inside; the host's disks are never written. @default '64M'
   */
  upperSize?: Size;
  /**
   * Keep the writable layer on disk instead, in this existing host
   * directory (yours: it is not removed; it must be your user's, mode
   * 0700, as a payload's setuid files land in it): init makes `upper/` (the layer),
   * `work/` (overlayfs's) and `root/` (the mount point) in it. What a
   * container writes then outlives it and a later container with the same
   * directory sees it; only one container may use it at a time. No size
   * limit is enforced (use a filesystem with quotas, or a loop device).
   * Excludes `upperSize`.
   */
  upperDir?: string;
}

/** Where init may mount the writable layer's tmpfs (in its own mount namespace only). */
const SCRATCH_CANDIDATES = ['/mnt', '/media', '/srv', '/opt', '/tmp', '/run'];

const DEFAULT_UPPER_SIZE = 64 * 1024 * 1024;

/** The root filesystem of a container. */
export class LayerStack {
  /** 'host': the host's root, recursively bound read-only; 'overlay': read-only layers under a writable one. */
  readonly kind: 'host' | 'overlay';
  /** The read-only layers' directories, base first (empty for 'host'). */
  readonly layers: readonly string[];
  /** Bytes the writable layer may hold (0 for 'host', and with `upperDir`: not limited). */
  readonly upperSize: number;
  /** The host directory of an on-disk writable layer, or null (a tmpfs, or 'host'). */
  readonly upperDir: string | null;

  private constructor(kind: 'host' | 'overlay', layers: readonly string[] = [], upperSize = 0, upperDir: string | null = null) {
    this.kind = kind;
    this.layers = Object.freeze([...layers]);
    this.upperSize = upperSize;
    this.upperDir = upperDir;
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

  /**
   * A root made of directories, base first, each a read-only layer (a
   * layer's whiteouts, 0/0 character devices and opaque directories, hide
   * what the layers below have, as in any overlayfs or OCI image), with a
   * writable layer on top that lives as long as the container, in a tmpfs of
   * `upperSize`. The directories are never written. Checked now: each must
   * be an existing directory (ERR_INVALID_OPTION naming `layers[i]`).
   */
  static fromDirectories(dirs: readonly string[], options: OverlayOptions = {}): LayerStack {
    if (!Array.isArray(dirs) || dirs.length === 0) throw invalidOption('layers', 'a non-empty array of directories, base first', dirs);
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    for (const k of Object.keys(options)) {
      if (k !== 'upperSize' && k !== 'upperDir') {
        throw new IsolateError('ERR_INVALID_OPTION', `Unknown LayerStack option \`${k}\`; known: upperSize, upperDir`, { option: k });
      }
    }
    if (options.upperSize !== undefined && options.upperDir !== undefined) {
      throw new IsolateError('ERR_INVALID_OPTION', '`upperSize` limits a tmpfs writable layer; with `upperDir` the layer is on disk and not limited: give one of them', {
        option: 'upperSize',
      });
    }
    const upperSize = options.upperDir !== undefined ? 0 : options.upperSize === undefined ? DEFAULT_UPPER_SIZE : parseSize('upperSize', options.upperSize);
    if (options.upperDir === undefined && upperSize < 64 * 1024) throw invalidOption('upperSize', 'at least 64K', options.upperSize);
    const layers = dirs.map((d, i) => checkDir(d, `layers[${i}]`, 'Layer'));
    if (options.upperDir !== undefined) {
      const upperDir = checkDir(options.upperDir, 'upperDir', 'upperDir');
      if (overlaps(layers, upperDir)) {
        throw new IsolateError('ERR_INVALID_OPTION', `upperDir ${options.upperDir} holds or lies inside a layer; overlayfs refuses overlapping layers`, { option: 'upperDir', path: upperDir });
      }
      checkPrivate(upperDir, options.upperDir);
      return new LayerStack('overlay', layers, 0, upperDir);
    }
    scratchDir(layers); // fails now, not in the container, when there is nowhere to put the writable layer
    return new LayerStack('overlay', layers, upperSize);
  }

  /**
   * The same from store Layers (base first), e.g. an image's layers plus one
   * commit() made: `LayerStack.fromLayers([...image.layers, layer])`.
   */
  static fromLayers(layers: readonly { readonly path: string }[], options: OverlayOptions = {}): LayerStack {
    if (!Array.isArray(layers)) throw invalidOption('layers', 'an array of Layers, base first', layers);
    return LayerStack.fromDirectories(
      layers.map((l, i) => {
        if (typeof l !== 'object' || l === null || typeof (l as { path?: unknown }).path !== 'string') throw invalidOption(`layers[${i}]`, 'a Layer', l);
        return l.path;
      }),
      options,
    );
  }

  /** True when the root itself can never be written (the host root: always). */
  get readonly(): boolean {
    return this.kind === 'host';
  }

  /** @internal A path that must exist on the host for a mount target there, or null when the layer makes its own. */
  hostPathFor(target: string): string | null {
    // An overlay root is writable while init sets it up: it makes mount points.
    return this.kind === 'host' ? target : null;
  }

  /**
   * @internal What `target` is in an overlay root's layers (the writable
   * one included, when it is the caller's directory on disk and holds one).
   */
  kindOf(target: string): UnionKind {
    const upper = this.upperDir === null ? [] : [`${this.upperDir}/upper`].filter((d) => lstatSync(d, { throwIfNoEntry: false })?.isDirectory());
    return unionKind([...this.layers, ...upper], target);
  }

  /**
   * @internal Where init builds this root before pivot_root, as planRoot()
   * returns it: every mount target is reached below it until then.
   */
  setupRoot(staging: string): string {
    return this.kind === 'host' ? staging : `${this.upperDir ?? scratchDir(this.layers)}/root`;
  }

  /**
   * @internal Emits the ops that put this root in place; returns where (a
   * path in init's pre-pivot view). `staging` is a host directory the host
   * root can be mounted on.
   */
  planRoot(b: PlanBuilder, staging: string): string {
    if (this.kind === 'overlay') return this.planOverlay(b);
    const attrs = MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV;
    b.add(Op.Bind, { description: 'bind the host root read-only on /', path: '/' }, { str: ['/', staging], num: [attrs] });
    for (const p of cachedHostSubmounts()) {
      // Optional: a host mount that went away since mountinfo was read is simply absent.
      b.add(Op.Bind, { description: `bind the host's ${p} read-only`, path: p }, {
        flags: OpFlag.Recursive | OpFlag.Optional,
        str: [p, `${staging}${p}`],
        num: [attrs],
      });
    }
    return staging;
  }

  /**
   * A tmpfs of upperSize (in init's mount namespace, so it goes with it:
   * nothing to clean up), or the caller's upperDir on disk, with the
   * writable layer, overlayfs's work dir and the mount point of the union,
   * which becomes the new root.
   */
  private planOverlay(b: PlanBuilder): string {
    // On disk, the caller's directory; else a tmpfs on a scratch directory.
    const scratch = this.upperDir ?? scratchDir(this.layers);
    if (this.upperDir === null) {
      b.add(Op.Mount, { description: `mount the writable layer (tmpfs of ${this.upperSize} bytes)`, path: '/' }, {
        str: ['tmpfs', scratch, 'tmpfs', `mode=0755,size=${this.upperSize},nr_inodes=${tmpfsInodes(this.upperSize)}`],
        num: [MS.NOSUID | MS.NODEV],
      });
    }
    for (const [name, mode] of [
      ['upper', 0o755],
      ['work', 0o700],
      ['root', 0o755],
    ] as const) {
      b.add(Op.Mkdir, { description: `mkdir the overlay's ${name} dir`, path: '/' }, { str: [undefined, `${scratch}/${name}`], num: [mode] });
    }
    // pivot_root detaches the tmpfs from every path: init sends the parent an
    // fd of the writable layer instead, which commit() and diff() read through.
    b.add(Op.Hold, { description: 'keep the writable layer open', path: '/' }, { str: [undefined, `${scratch}/upper`] });
    b.add(Op.Overlay, { description: `mount the overlay of ${this.layers.length} layer(s) on /`, path: '/' }, {
      str: [`${scratch}/upper`, `${scratch}/root`, `${scratch}/work`],
      num: [{ strings: [...this.layers].reverse() }, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV],
    });
    return `${scratch}/root`;
  }
}

/**
 * What a container writes to an upperDir lands on the host's disk as it
 * wrote it: a uid-0 payload's setuid-root program, device-less FIFOs,
 * symlinks to anywhere. The overlay's nosuid holds inside the container
 * only; a host user who can reach the directory could run that program as
 * root. So the directory must be this process's user's and closed to
 * everyone else (mode 0700, as mkdtemp makes it).
 */
function checkPrivate(real: string, given: string): void {
  const st = statSync(real);
  const uid = process.geteuid?.() ?? 0;
  if (st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new IsolateError(
      'ERR_INVALID_OPTION',
      `upperDir ${given} must belong to this process's user (uid ${uid}) and be closed to others (mode 0700; it is ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${st.uid}): what a container writes there, setuid programs included, lands on the host's disk`,
      { option: 'upperDir', path: given },
    );
  }
}

/** An existing directory's real path, fit for overlayfs; ERR_INVALID_OPTION naming `option` otherwise. */
function checkDir(d: unknown, option: string, what: string): string {
  if (typeof d !== 'string' || d === '' || d.includes('\0')) throw invalidOption(option, 'a directory path', d);
  let real: string;
  try {
    real = realpathSync(resolve(d));
  } catch (err) {
    throw new IsolateError('ERR_INVALID_OPTION', `${what} ${d} (${option}) does not exist`, { option, path: d, cause: err });
  }
  if (!statSync(real).isDirectory()) throw new IsolateError('ERR_INVALID_OPTION', `${what} ${d} (${option}) is not a directory`, { option, path: d });
  // overlayfs splits mount(2)'s options at ':' and ',' (the fallback
  // before Linux 6.8): refuse such paths rather than mis-mount them.
  if (/[:,\\\n]/.test(real)) {
    throw new IsolateError('ERR_INVALID_OPTION', `${what} ${d} (${option}): overlayfs cannot take a path with ':', ',', '\\' or a newline`, { option, path: d });
  }
  return real;
}

/** Whether `d` is a layer, holds one, or lies inside one. */
function overlaps(layers: readonly string[], d: string): boolean {
  return layers.some((l) => l === d || l.startsWith(`${d}/`) || d.startsWith(`${l}/`));
}

/** A directory for the writable layer's tmpfs that neither holds nor lies inside a layer (it gets covered). */
function scratchDir(layers: readonly string[]): string {
  for (const d of SCRATCH_CANDIDATES) {
    if (overlaps(layers, d)) continue;
    try {
      if (lstatSync(d).isDirectory()) return d;
    } catch {
      /* try the next */
    }
  }
  throw new IsolateError('ERR_UNSUPPORTED', `No directory to stage the writable layer on: each of ${SCRATCH_CANDIDATES.join(', ')} is missing or holds a layer`, {
    option: 'layers',
  });
}

const hostStack = new (LayerStack as unknown as new (kind: 'host') => LayerStack)('host');
