/**
 * The plan: setup steps compiled to the fixed binary layout that the
 * container's init executes (csrc/ik_plan.h; keep the two in sync). Every
 * step carries a human description so a failure inside the container comes
 * back as "bind /nope on /data: ENOENT", not as an op number.
 */

export const enum Op {
  Bind = 1,
  Mount = 2,
  Mask = 3,
  Readonly = 4,
  Mkdir = 5,
  Symlink = 6,
  PivotRoot = 7,
  Hostname = 8,
  Loopback = 9,
  Process = 10,
  Unshare = 11,
  Mknod = 12,
  Overlay = 13,
  Hold = 14,
  /** init installs a seccomp filter that every process it starts inherits: no new user namespaces (csrc/init/no_userns.c). */
  DenyUserns = 15,
  /** init restricts itself to a Landlock domain that every process it starts inherits (csrc/init/landlock_scope.c). */
  Landlock = 16,
  /** init joins a new, empty session keyring, which every process it starts inherits instead of the caller's. */
  SessionKeyring = 17,
  Rlimit = 20,
  Creds = 21,
  Chdir = 22,
  NoNewPrivs = 23,
  Exec = 24,
  /** num0: a seccomp filter (the caller's profile, compiled), as a list of two u32 per instruction; installed just before execve. */
  Seccomp = 25,
}

/** Op flags (IK_F_*). */
export const OpFlag = {
  Recursive: 0x1,
  Optional: 0x2,
  Mkdir: 0x4,
  Mkfile: 0x8,
  SetGroups: 0x10,
  /** Readonly: set the attributes on the mount at the path itself (no bind of it onto itself). */
  InPlace: 0x20,
  /**
   * The target, below the new root, is resolved there without following any
   * symbolic link (init refuses one: ELOOP). For the kernel filesystems and
   * what is in them (/proc, /sys, /dev, their masks and read-only parts):
   * an image's link there could send the mount one way and the masks
   * another, where they would find nothing to hide.
   */
  NoSymlinks: 0x40,
} as const;

/** mount(2) flags used by plans. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  RELATIME: 0x200000,
} as const;

/** mount_setattr(2) attributes. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
} as const;

/** Names of IK_SC_* (csrc/ik_plan.h enum ik_syscall), by value. */
export const SYSCALL_NAMES: readonly string[] = [
  '',
  'plan',
  'mount namespace check',
  'mount',
  'umount2',
  'open_tree',
  'mount_setattr',
  'move_mount',
  'mkdir',
  'open',
  'symlink',
  'pivot_root',
  'chdir',
  'sethostname',
  'socket',
  'ioctl',
  'setrlimit',
  'setgroups',
  'setresgid',
  'setresuid',
  'capset',
  'prctl',
  'execve',
  'clone',
  'read',
  'stat',
  'signalfd',
  'execveat',
  'dup2',
  'recvmsg',
  'unshare',
  'mknod',
  'write',
  'fsopen',
  'fsconfig',
  'fsmount',
  'seccomp',
  'pwrite',
  'landlock',
  'keyctl',
];

/** IK_SC_OPEN: also init resolving a step's target inside the new root (ELOOP: the root itself, or a loop). */
export const SC_OPEN = 9;
/** IK_SC_CGROUP_JOIN: init could not join its cgroup. */
export const SC_CGROUP_JOIN = 32;
/** IK_SC_FSOPEN: ENODEV there means the kernel lacks the filesystem (overlayfs). */
export const SC_FSOPEN = 33;

export const PLAN_MAGIC = 0x314b5049;
export const PLAN_VERSION = 1;
/**
 * The largest plan init reads (IK_PLAN_MAX_BYTES): above what exec takes
 * (6 MiB of strings at most) and MOUNTS_MAX mounts of the longest paths
 * together. Only a bound: the plan is as long as its content (csrc/addon.cc,
 * PlanPipe).
 */
export const PLAN_MAX_BYTES = 1 << 26;
/** The most steps a plan may have (IK_PLAN_MAX_OPS). */
export const PLAN_MAX_OPS = 4096;
export const PLAN_F_PIDNS = 0x1;
export const PLAN_F_MNTNS = 0x2;
export const PLAN_F_TRACE = 0x4;

const HEADER_SIZE = 32;
const OP_SIZE = 48;

/** A number field, or a list stored in the plan's data area. */
type Num = number | bigint | { strings: readonly string[] } | { ids: readonly number[] };

interface PlanOp {
  type: Op;
  flags: number;
  str: (string | undefined)[];
  num: Num[];
}

/** A step as errors describe it. */
export interface PlanStep {
  /** "bind /nope on /data", "exec python3", … */
  description: string;
  /** The path the step is about, as seen from inside the container where there is one. */
  path?: string;
  /** Its target may not go through a symbolic link (OpFlag.NoSymlinks), for errors to say so. */
  noSymlinks?: boolean;
}

/** Collects ops, then serializes them with their strings and lists. */
export class PlanBuilder {
  readonly steps: PlanStep[] = [];
  private readonly ops: PlanOp[] = [];
  flags = 0;

  /** Appends an op; returns its index. */
  add(type: Op, step: PlanStep, fields: { flags?: number; str?: (string | undefined)[]; num?: Num[] } = {}): number {
    this.ops.push({ type, flags: fields.flags ?? 0, str: fields.str ?? [], num: fields.num ?? [] });
    this.steps.push((fields.flags ?? 0) & OpFlag.NoSymlinks ? { ...step, noSymlinks: true } : step);
    return this.ops.length - 1;
  }

  get length(): number {
    return this.ops.length;
  }

  /**
   * The plan as the bytes init reads. Throws RangeError past PLAN_MAX_BYTES
   * or PLAN_MAX_OPS, which the options' checks keep a container from
   * reaching (MOUNTS_MAX, lib/exec-size.ts).
   */
  build(): Buffer {
    if (this.ops.length > PLAN_MAX_OPS) {
      throw new RangeError(`The container plan has ${this.ops.length} steps; the limit is ${PLAN_MAX_OPS} (too many mounts?)`);
    }
    // Pass 1: lay out the data area after the op records: strings
    // (NUL-terminated, each stored once) and 4-aligned lists.
    let size = HEADER_SIZE + this.ops.length * OP_SIZE;
    const strOffsets = new Map<string, number>();
    const lists: { off: number; items: readonly number[] }[] = [];
    const placeString = (s: string): number => {
      let off = strOffsets.get(s);
      if (off === undefined) {
        off = size;
        strOffsets.set(s, off);
        size += Buffer.byteLength(s, 'utf8') + 1;
      }
      return off;
    };
    const placeList = (items: readonly number[]): number => {
      size += (4 - (size % 4)) % 4;
      const off = size;
      lists.push({ off, items });
      size += 4 + items.length * 4;
      return off;
    };
    const encoded = this.ops.map((op) => ({
      op,
      str: [0, 1, 2, 3].map((i) => (op.str[i] === undefined ? 0 : placeString(op.str[i]!))),
      num: op.num.map((n): number | bigint => {
        if (typeof n === 'number' || typeof n === 'bigint') return n;
        return placeList('strings' in n ? n.strings.map(placeString) : n.ids);
      }),
    }));
    if (size > PLAN_MAX_BYTES) {
      throw new RangeError(`The container plan is ${size} bytes; the limit is ${PLAN_MAX_BYTES} (arguments and environment too large?)`);
    }

    // Pass 2: one zeroed buffer, written in place.
    const buf = Buffer.alloc(size);
    buf.writeUInt32LE(PLAN_MAGIC, 0);
    buf.writeUInt32LE(PLAN_VERSION, 4);
    buf.writeUInt32LE(size, 8);
    buf.writeUInt32LE(this.ops.length, 12);
    buf.writeUInt32LE(HEADER_SIZE, 16);
    buf.writeUInt32LE(this.flags, 20);
    encoded.forEach(({ op, str, num }, i) => {
      const o = HEADER_SIZE + i * OP_SIZE;
      buf.writeUInt32LE(op.type, o);
      buf.writeUInt32LE(op.flags, o + 4);
      for (let k = 0; k < 4; k++) buf.writeUInt32LE(str[k]!, o + 8 + k * 4);
      num.forEach((v, k) => {
        const at = o + 24 + k * 8;
        if (typeof v === 'bigint' || v < 0 || !Number.isSafeInteger(v)) {
          buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), at);
        } else {
          buf.writeUInt32LE(v % 0x100000000, at);
          buf.writeUInt32LE(Math.floor(v / 0x100000000), at + 4);
        }
      });
    });
    for (const [s, off] of strOffsets) buf.write(s, off, 'utf8');
    for (const { off, items } of lists) {
      buf.writeUInt32LE(items.length, off);
      items.forEach((v, i) => buf.writeUInt32LE(v >>> 0, off + 4 + i * 4));
    }
    return buf;
  }
}
