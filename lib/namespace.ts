import { IsolateError, describeErrno, invalidOption } from './errors';
import { native } from './native';

/** Namespace kinds, named as in /proc/self/ns. */
export type NamespaceKind = 'pid' | 'net' | 'ipc' | 'mnt' | 'uts' | 'user' | 'cgroup' | 'time';

export const NAMESPACE_KINDS: readonly NamespaceKind[] = ['pid', 'net', 'ipc', 'mnt', 'uts', 'user', 'cgroup', 'time'];

/** CLONE_NEW* flag of each kind (linux/sched.h). */
export const CLONE_FLAGS: Readonly<Record<NamespaceKind, number>> = {
  mnt: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  net: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
};

/** One line of a uid_map/gid_map: `count` ids from `inside` map to `outside` on the host. */
export interface IdMap {
  inside: number;
  outside: number;
  count: number;
}

export interface NamespaceOptions {
  /** uid map for a user namespace. @default root inside = the caller outside */
  uidMap?: IdMap[];
  /** gid map for a user namespace. @default root inside = the caller's gid outside */
  gidMap?: IdMap[];
}

/** What a container gets by default: everything but user and time. */
export const DEFAULT_KINDS: readonly NamespaceKind[] = ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'];

/**
 * Which kernel views a sandbox gets. Immutable: `with()` and `without()`
 * return new objects.
 */
export class Namespace {
  /** The kinds, in NAMESPACE_KINDS order. */
  readonly kinds: readonly NamespaceKind[];
  readonly uidMap?: readonly IdMap[];
  readonly gidMap?: readonly IdMap[];

  /**
   * @param kinds an array of kinds or `{ pid: true, net: false, … }`.
   * @default the container default: pid, mnt, uts, ipc, net, cgroup
   */
  constructor(kinds: readonly NamespaceKind[] | Partial<Record<NamespaceKind, boolean>> = DEFAULT_KINDS, options: NamespaceOptions = {}) {
    const set = new Set<NamespaceKind>();
    if (Array.isArray(kinds)) {
      kinds.forEach((k, i) => {
        if (!NAMESPACE_KINDS.includes(k)) throw invalidOption(`namespaces[${i}]`, `one of ${NAMESPACE_KINDS.join(', ')}`, k);
        set.add(k);
      });
    } else if (typeof kinds === 'object' && kinds !== null) {
      for (const [k, on] of Object.entries(kinds)) {
        if (!NAMESPACE_KINDS.includes(k as NamespaceKind)) {
          throw invalidOption(`namespaces.${k}`, `a namespace kind (${NAMESPACE_KINDS.join(', ')})`, k);
        }
        if (typeof on !== 'boolean' && on !== undefined) throw invalidOption(`namespaces.${k}`, 'a boolean', on);
        if (on) set.add(k as NamespaceKind);
      }
    } else {
      throw invalidOption('namespaces', 'an array of namespace kinds or an object of booleans', kinds);
    }
    this.kinds = Object.freeze(NAMESPACE_KINDS.filter((k) => set.has(k)));
    if (options.uidMap !== undefined) this.uidMap = Object.freeze(checkMap('uidMap', options.uidMap));
    if (options.gidMap !== undefined) this.gidMap = Object.freeze(checkMap('gidMap', options.gidMap));
    Object.freeze(this);
  }

  /** True when this set includes `kind`. */
  has(kind: NamespaceKind): boolean {
    return this.kinds.includes(kind);
  }

  /** A copy that also has `kinds`. */
  with(...kinds: NamespaceKind[]): Namespace {
    return new Namespace([...this.kinds, ...kinds], this.options());
  }

  /** A copy without `kinds`. */
  without(...kinds: NamespaceKind[]): Namespace {
    kinds.forEach((k, i) => {
      if (!NAMESPACE_KINDS.includes(k)) throw invalidOption(`without(…)[${i}]`, `one of ${NAMESPACE_KINDS.join(', ')}`, k);
    });
    return new Namespace(
      this.kinds.filter((k) => !kinds.includes(k)),
      this.options(),
    );
  }

  /** CLONE_NEW* flags for clone(): every kind but time, which init enters with unshare(). */
  cloneFlags(): number {
    let flags = 0;
    for (const k of this.kinds) if (k !== 'time') flags |= CLONE_FLAGS[k];
    return flags;
  }

  /** The kinds this kernel lets this caller create, each tried for real (cached). */
  static supported(): NamespaceKind[] {
    return NAMESPACE_KINDS.filter((k) => Namespace.probe(k) === null);
  }

  /** null if `kind` can be created here, else the errno name and text (cached). */
  static probe(kind: NamespaceKind): string | null {
    if (!probeCache.has(kind)) {
      const errno = native().probeUnshare(CLONE_FLAGS[kind]);
      probeCache.set(kind, errno === 0 ? null : errnoText(errno));
    }
    return probeCache.get(kind)!;
  }

  /**
   * Share a namespace of another process or container (a "pod").
   * Not available yet: containers get their own namespaces of every kind they list.
   */
  static join(kind: NamespaceKind, _target: number | { pid?: number }): never {
    throw new IsolateError('ERR_UNSUPPORTED', `Joining an existing ${kind} namespace is not supported yet`);
  }

  private options(): NamespaceOptions {
    const o: NamespaceOptions = {};
    if (this.uidMap) o.uidMap = [...this.uidMap];
    if (this.gidMap) o.gidMap = [...this.gidMap];
    return o;
  }
}

const probeCache = new Map<NamespaceKind, string | null>();

function errnoText(errno: number): string {
  const [name, text] = describeErrno(errno);
  return `${name} (${text})`;
}

function checkMap(option: string, map: unknown): IdMap[] {
  if (!Array.isArray(map) || map.length === 0 || map.length > 340) {
    throw invalidOption(option, 'a non-empty array of { inside, outside, count }', map);
  }
  return map.map((m, i) => {
    const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xfffffffe;
    if (typeof m !== 'object' || m === null || !ok(m.inside) || !ok(m.outside) || !ok(m.count) || m.count === 0) {
      throw invalidOption(`${option}[${i}]`, '{ inside, outside, count } with ids in 0..4294967294 and count > 0', m);
    }
    return { inside: m.inside, outside: m.outside, count: m.count };
  });
}

/** Coerces the `namespaces` option (a Namespace, an array or an object) to a Namespace. */
export function toNamespace(value: unknown): Namespace {
  if (value === undefined) return new Namespace();
  if (value instanceof Namespace) return value;
  if (Array.isArray(value) || (typeof value === 'object' && value !== null)) {
    return new Namespace(value as NamespaceKind[]);
  }
  throw invalidOption('namespaces', 'a Namespace, an array of kinds or an object of booleans', value);
}
