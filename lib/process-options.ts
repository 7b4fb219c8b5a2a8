/**
 * Options of one process inside a container (environment, user, working
 * directory, capabilities, rlimits) and the plan ops that apply them between
 * fork and exec.
 */
import { readFileSync } from 'node:fs';
import { invalidOption } from './errors';
import { checkContainerPath } from './filesystem';
import { CAP_SYS_RESOURCE, holdsHostCapability } from './host-caps';
import { native } from './native';
import { Op, OpFlag, PlanBuilder } from './plan';

/** Who the payload runs as. */
export interface UserOptions {
  uid: number;
  /** @default the same number as uid */
  gid?: number;
  /** Supplementary groups. @default [] */
  groups?: number[];
}

/** An rlimit: one number for soft = hard, or [soft, hard]; 'unlimited' or Infinity for no limit. */
export type RlimitValue = number | 'unlimited' | [number | 'unlimited', number | 'unlimited'] | { soft: number | 'unlimited'; hard: number | 'unlimited' };

export type RlimitName =
  | 'cpu'
  | 'fsize'
  | 'data'
  | 'stack'
  | 'core'
  | 'rss'
  | 'nproc'
  | 'nofile'
  | 'memlock'
  | 'as'
  | 'locks'
  | 'sigpending'
  | 'msgqueue'
  | 'nice'
  | 'rtprio'
  | 'rttime';

/** RLIMIT_* numbers (asm-generic/resource.h, used by x86-64 and arm64). */
export const RLIMITS: Readonly<Record<RlimitName, number>> = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
};

export type RlimitOptions = Partial<Record<RlimitName, RlimitValue>>;

/**
 * Applied unless overridden: no core dumps (the host's core_pattern may be a
 * pipe to a host program), 1024 open files (4096 for a payload that raises
 * its own). Each is capped at this process's hard limit (checkRlimits).
 */
export const DEFAULT_RLIMITS: RlimitOptions = { core: 0, nofile: [1024, 4096] };

/** Capability names by number (linux/capability.h). */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** The default user with the host root: nobody, so root-only host files stay unreadable. */
export const NOBODY: Required<UserOptions> = { uid: 65534, gid: 65534, groups: [] };

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The environment a payload starts with; never the host's. */
export const DEFAULT_ENV: Readonly<Record<string, string>> = { PATH: DEFAULT_PATH, HOME: '/tmp' };

/** Everything init needs to start one process. */
export interface ProcessSpec {
  argv: string[];
  env: string[];
  cwd: string;
  user: Required<UserOptions>;
  capabilities: bigint;
  noNewPrivileges: boolean;
  rlimits: [number, bigint, bigint][];
  /** A seccomp filter to install last (the container's profile, compiled: two u32 per instruction). */
  seccomp?: readonly number[];
}

const ID_MAX = 0xfffffffe;

function checkId(option: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > ID_MAX) {
    throw invalidOption(option, `an integer id from 0 to ${ID_MAX}`, v);
  }
  return v as number;
}

/** Validates a command: a non-empty array of strings without NUL bytes. */
export function checkCommand(cmd: unknown): string[] {
  if (!Array.isArray(cmd) || cmd.length === 0) throw invalidOption('command', 'a non-empty array of strings', cmd);
  cmd.forEach((a, i) => {
    if (typeof a !== 'string' || a.includes('\0')) throw invalidOption(`command[${i}]`, 'a string without NUL bytes', a);
  });
  if (cmd[0] === '') throw invalidOption('command[0]', 'a program name or path', cmd[0]);
  return [...cmd];
}

/** Validates `user`. */
export function checkUser(value: unknown, option = 'user'): Required<UserOptions> {
  if (typeof value !== 'object' || value === null) throw invalidOption(option, '{ uid, gid?, groups? }', value);
  const u = value as Record<string, unknown>;
  for (const k of Object.keys(u)) {
    if (!['uid', 'gid', 'groups'].includes(k)) throw invalidOption(`${option}.${k}`, 'one of uid, gid, groups (misspelled?)', k);
  }
  const uid = checkId(`${option}.uid`, u.uid);
  const gid = u.gid === undefined ? uid : checkId(`${option}.gid`, u.gid);
  if (u.groups !== undefined && (!Array.isArray(u.groups) || u.groups.length > 65536)) {
    throw invalidOption(`${option}.groups`, 'an array of group ids', u.groups);
  }
  const groups = ((u.groups as unknown[]) ?? []).map((g, i) => checkId(`${option}.groups[${i}]`, g));
  return { uid, gid, groups };
}

/** Validates `env` and merges it over `base` (null or undefined removes a variable). */
export function mergeEnv(base: Readonly<Record<string, string>>, value: unknown, option = 'env'): Record<string, string> {
  const out: Record<string, string> = { ...base };
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(option, 'an object of strings ({ NAME: "value" })', value);
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === '' || k.includes('=') || k.includes('\0')) throw invalidOption(`${option} name`, 'a name without "=" or NUL', k);
    if (v === undefined || v === null) {
      delete out[k];
    } else if (typeof v === 'string' && !v.includes('\0')) {
      out[k] = v;
    } else {
      throw invalidOption(`${option}.${k}`, 'a string without NUL bytes', v);
    }
  }
  return out;
}

/** A capability's number from its name (with or without CAP_, any case), or -1. */
export function capabilityBit(name: unknown): number {
  return typeof name === 'string' ? CAPABILITIES.indexOf(name.toUpperCase().replace(/^(CAP_)?/, 'CAP_')) : -1;
}

/** Validates `capabilities` (names with or without CAP_, any case) to a bit mask. */
export function checkCapabilities(value: unknown): bigint {
  if (value === undefined) return 0n;
  if (!Array.isArray(value)) throw invalidOption('capabilities', 'an array of capability names', value);
  let mask = 0n;
  value.forEach((name, i) => {
    const bit = capabilityBit(name);
    if (bit < 0) throw invalidOption(`capabilities[${i}]`, 'a capability name such as "CAP_NET_BIND_SERVICE"', name);
    mask |= 1n << BigInt(bit);
  });
  return mask;
}

const RLIM_INFINITY = (1n << 64n) - 1n;

function rlimitNumber(option: string, v: unknown): bigint {
  if (v === 'unlimited' || v === Infinity) return RLIM_INFINITY;
  if (Number.isSafeInteger(v) && (v as number) >= 0) return BigInt(v as number);
  throw invalidOption(option, "a non-negative integer or 'unlimited'", v);
}

/**
 * This process's hard limit for `resource`. A container inherits it (its
 * init is forked from this process's zygote) and cannot raise it without
 * CAP_SYS_RESOURCE. Null where the addon cannot say (not built: the start
 * fails with its own error).
 */
function ownHardLimit(resource: number): bigint | null {
  try {
    return native().getrlimit(resource)[1];
  } catch {
    return null;
  }
}

/**
 * The most open files the kernel lets a process have (fs.nr_open): a hard
 * nofile above it is EPERM even with CAP_SYS_RESOURCE. Read once; null
 * where /proc/sys cannot be read (the start then says).
 */
let nrOpen: bigint | null | undefined;
function kernelNrOpen(): bigint | null {
  if (nrOpen === undefined) {
    try {
      nrOpen = BigInt(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    } catch {
      nrOpen = null;
    }
  }
  return nrOpen;
}

/**
 * Validates `rlimits` merged over the defaults. A default above this
 * process's own hard limit is lowered to it (a caller under `ulimit -n 1024`
 * got a setup failure on every start: EPERM raising nofile's hard limit to
 * 4096); a limit the caller asks for above it, which init could not set,
 * is refused here, unless this process holds CAP_SYS_RESOURCE.
 */
export function checkRlimits(value: unknown): [number, bigint, bigint][] {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw invalidOption('rlimits', 'an object such as { nofile: 1024, core: 0 }', value);
  }
  const merged: Record<string, unknown> = { ...DEFAULT_RLIMITS };
  const given = new Set<string>();
  for (const [name, v] of Object.entries((value as object | undefined) ?? {})) {
    if (v === undefined) continue;
    merged[name] = v;
    given.add(name);
  }
  return Object.entries(merged).map(([name, v]) => {
    const option = `rlimits.${name}`;
    const resource = RLIMITS[name as RlimitName];
    if (resource === undefined) throw invalidOption(option, `a limit name (${Object.keys(RLIMITS).join(', ')})`, name);
    let soft: bigint;
    let hard: bigint;
    if (Array.isArray(v) && v.length === 2) {
      soft = rlimitNumber(`${option}[0]`, v[0]);
      hard = rlimitNumber(`${option}[1]`, v[1]);
    } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      soft = rlimitNumber(`${option}.soft`, (v as { soft: unknown }).soft);
      hard = rlimitNumber(`${option}.hard`, (v as { hard: unknown }).hard);
    } else {
      soft = hard = rlimitNumber(option, v);
    }
    if (soft > hard) throw invalidOption(option, 'a soft limit not above the hard limit', v);
    const most = name === 'nofile' && given.has(name) ? kernelNrOpen() : null;
    if (most !== null && hard > most) {
      throw invalidOption(option, `a limit of at most ${most} (the kernel's fs.nr_open, the most open files it lets a process have)`, v);
    }
    // Defaults hold only 0 and small numbers: with no hard limit of its own
    // below them (the common case) this is one getrlimit.
    const own = hard === 0n ? null : ownHardLimit(resource);
    if (own !== null && hard > own) {
      if (!given.has(name)) return [resource, soft < own ? soft : own, own];
      if (!holdsHostCapability(CAP_SYS_RESOURCE)) {
        throw invalidOption(
          option,
          `a hard limit not above this process's own (${own})`,
          v,
          'a container cannot raise it without CAP_SYS_RESOURCE, which this process lacks: raise its limit first (ulimit -H, prlimit, systemd Limit*=) or ask for less',
        );
      }
    }
    return [resource, soft, hard];
  });
}

/** Checks `cwd`. */
export function checkCwd(value: unknown, option = 'cwd'): string {
  return checkContainerPath(option, value, true);
}

/**
 * Emits the process ops, from IK_OP_PROCESS to IK_OP_EXEC. `ownPipes`: bit k
 * set when fd k is a pipe the addon made for this process (stdio 'pipe'),
 * which init gives to the payload's uid; no other fd changes owner.
 */
export function planProcess(b: PlanBuilder, id: number, spec: ProcessSpec, ownPipes = 0): void {
  b.add(Op.Process, { description: `start ${spec.argv[0]}` }, { num: [id, ownPipes] });
  for (const [resource, soft, hard] of spec.rlimits) {
    const name = Object.keys(RLIMITS).find((k) => RLIMITS[k as RlimitName] === resource) ?? String(resource);
    b.add(Op.Rlimit, { description: `set rlimit ${name}` }, { num: [resource, soft, hard] });
  }
  const { uid, gid, groups } = spec.user;
  b.add(Op.Creds, { description: `switch to uid ${uid} gid ${gid}` }, {
    flags: OpFlag.SetGroups,
    num: [BigInt(uid) | (BigInt(gid) << 32n), { ids: groups }, spec.capabilities],
  });
  b.add(Op.Chdir, { description: `chdir ${spec.cwd}`, path: spec.cwd }, { str: [spec.cwd] });
  if (spec.noNewPrivileges) b.add(Op.NoNewPrivs, { description: 'set no_new_privs' });
  if (spec.seccomp) b.add(Op.Seccomp, { description: 'install the seccomp profile' }, { num: [{ ids: spec.seccomp }] });
  const envPath = spec.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  b.add(Op.Exec, { description: `exec ${spec.argv[0]}`, path: spec.argv[0] }, {
    str: [spec.argv[0], envPath],
    num: [{ strings: spec.argv }, { strings: spec.env }],
  });
}
