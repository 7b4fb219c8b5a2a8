/**
 * CGroup limits: what users type (short forms such as `memory: '256M'`,
 * `cpus: 0.5`, and structured forms named after the cgroup v2 files), checked
 * and turned into one normalized shape both backends write. Pure: reads the
 * host's CPU and memory-node lists and device numbers, creates nothing.
 */
import { statSync } from 'node:fs';
import { DEVICES } from '../dev-nodes';
import { IsolateError, invalidOption, showValue } from '../errors';
import { parseSize, type Size } from '../units';

/** 'max' (no limit) or a size. */
export type SizeOrMax = Size | 'max';

export interface MemoryLimits {
  /** Hard limit: above it the kernel reclaims, then OOM-kills inside the group (v1 memory.limit_in_bytes). */
  max?: SizeOrMax;
  /** Throttle point: above it the group is slowed and reclaimed hard (v2 only). */
  high?: SizeOrMax;
  /** Best-effort protection from reclaim (v1: memory.soft_limit_in_bytes). */
  low?: Size;
  /** Swap the group may use on top of `max` (v1: memory.memsw.limit_in_bytes = max + swapMax). 0 = none. */
  swapMax?: SizeOrMax;
  /**
   * Huge pages (hugetlbfs, MAP_HUGETLB) the group may take, which `max` does
   * not count: one size for each page size, or per page size
   * (`{ '2M': '64M', '1G': 0 }`). 0 for every page size by default when
   * `max` is set, where the host's hugetlb controller is usable: cgroup v2
   * (hugetlb.<size>.max and .rsvd.max) or a v1 hugetlb hierarchy
   * (hugetlb.<size>.limit_in_bytes and .rsvd.limit_in_bytes).
   */
  hugetlbMax?: SizeOrMax | Record<string, SizeOrMax>;
}

export interface CpuLimits {
  /** At most `quotaUs` of CPU time per `periodUs` (default 100000) across all CPUs; 'max' = no limit. */
  max?: { quotaUs: number; periodUs?: number } | 'max';
  /** Relative share under contention, 1..10000 (default 100; v1 cpu.shares, converted as runc does). */
  weight?: number;
}

export interface CpusetLimits {
  /** CPUs the group may run on, e.g. '0-1,3'. */
  cpus?: string;
  /** Memory nodes, e.g. '0'. */
  mems?: string;
}

export interface IoDeviceLimit {
  /** A block device: a path ('/dev/vda') or 'major:minor'. */
  device: string;
  /** Read / write bytes per second (sizes: '10M'). */
  rbps?: Size;
  wbps?: Size;
  /** Read / write operations per second. */
  riops?: number;
  wiops?: number;
}

export interface IoLimits {
  /** Relative share of disk time, 1..10000 (v1 blkio.weight 10..1000, converted). */
  weight?: number;
  /** Per-device throttles. */
  max?: IoDeviceLimit[];
}

/**
 * One allowed device: 'c 1:3 rwm' (type a/b/c, major:minor with * for any,
 * access from r w m), a path ('/dev/fuse', access rw), or an object.
 */
export type DeviceRuleSpec =
  | string
  | { type: 'a' | 'b' | 'c'; major?: number | '*'; minor?: number | '*'; access?: string }
  | { path: string; access?: string };

/** Limits of a cgroup. Every field is optional; see docs/cgroups.md. */
export interface CGroupLimits {
  /** A size ('256M', '1.5G'), or the structured form. */
  memory?: SizeOrMax | MemoryLimits;
  /** CPUs' worth of time, e.g. 0.5 (= cpu.max 50000 100000). */
  cpus?: number;
  cpu?: CpuLimits;
  /** CPUs to pin to ('0-1'), or the structured form. */
  cpuset?: string | CpusetLimits;
  /** Most processes (and threads) at once. */
  pids?: number | 'max';
  io?: IoLimits;
  /** Devices the group may use; every other is denied. Unset: the cgroup leaves devices alone. */
  devices?: DeviceRuleSpec[];
  /** net_cls class id (cgroup v1 only). */
  netClassId?: number;
}

/** A limit value in the normalized form: a number, or null for 'max' (no limit). */
export type Max = number | null;

export interface DeviceRule {
  type: 'a' | 'b' | 'c';
  /** -1 = any */
  major: number;
  minor: number;
  /** Subset of 'rwm', in that order. */
  access: string;
}

export interface IoThrottle {
  major: number;
  minor: number;
  /** What the user wrote, for messages. */
  device: string;
  rbps?: Max;
  wbps?: Max;
  riops?: Max;
  wiops?: Max;
}

/** Limits as the backends write them; a field left out is left as it is. */
export interface NormalizedLimits {
  memory?: { max?: Max; high?: Max; low?: number; swapMax?: Max; hugetlbMax?: Record<string, Max> };
  cpu?: { max?: { quotaUs: Max; periodUs: number }; weight?: number };
  cpuset?: { cpus?: string; mems?: string };
  pids?: Max;
  io?: { weight?: number; max?: IoThrottle[] };
  devices?: DeviceRule[];
  netClassId?: number;
}

export const LIMIT_KEYS = ['memory', 'cpus', 'cpu', 'cpuset', 'pids', 'io', 'devices', 'netClassId'] as const;

/** Controllers (cgroup v2 names) a set of limits needs. */
export type Controller = 'memory' | 'cpu' | 'cpuset' | 'pids' | 'io' | 'devices' | 'net_cls' | 'hugetlb';

export function controllersFor(l: NormalizedLimits): Controller[] {
  const out: Controller[] = [];
  if (l.memory) out.push('memory');
  if (l.cpu) out.push('cpu');
  if (l.cpuset) out.push('cpuset');
  if (l.pids !== undefined) out.push('pids');
  if (l.io) out.push('io');
  if (l.devices) out.push('devices');
  if (l.netClassId !== undefined) out.push('net_cls');
  // A limit lifted ('max' for each size) asks nothing of a host without it.
  if (hasHugetlbLimit(l)) out.push('hugetlb');
  return out;
}

/** Whether `l` bounds huge pages of some size (memory.hugetlbMax other than 'max'). */
function hasHugetlbLimit(l: NormalizedLimits): boolean {
  const h = l.memory?.hugetlbMax;
  return h !== undefined && Object.values(h).some((v) => v !== null);
}

const DEFAULT_PERIOD_US = 100_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(option: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) {
      throw new IsolateError('ERR_INVALID_OPTION', `Unknown \`${option}\` field \`${k}\` (misspelled?); known: ${allowed.join(', ')}`, {
        option: `${option}.${k}`,
      });
    }
  }
}

function sizeOrMax(option: string, v: unknown, min = 1): Max {
  if (v === 'max' || v === Infinity) return null;
  const n = parseSize(option, v);
  if (n < min) throw invalidOption(option, min === 1 ? "a positive size or 'max'" : `a size of at least ${min} bytes (one page), or 'max'`, v);
  return n;
}

/**
 * The kernel counts memory in pages: a smaller limit would be written as 0
 * (everything OOM-killed at once), surely not what was meant.
 */
const MIN_MEMORY = 4096;

/**
 * The most CPU time per period the kernel takes (its max_cfs_runtime,
 * 2^44 - 1 µs, about 203 days; v1 and v2 alike): more is refused at the
 * write with EINVAL, after the group is made.
 */
const MAX_QUOTA_US = 2 ** 44 - 1;

/** The most pids.max takes (the kernel's PID_MAX_LIMIT, 4M, on 64-bit); more is refused at the write. */
const MAX_PIDS = 4 * 1024 * 1024;

function integer(option: string, v: unknown, min: number, max: number, what = `an integer from ${min} to ${max}`): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidOption(option, what, v);
  return v;
}

function intOrMax(option: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): Max {
  if (v === 'max' || v === Infinity) return null;
  return integer(option, v, min, max, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}, or 'max'` : `an integer from ${min} to ${max}, or 'max'`);
}

/** Parses a CPU or memory-node list ('0-3,5') into its numbers. */
export function parseCpuList(option: string, v: unknown): number[] {
  const expected = "a CPU list like '0-1,3'";
  if (typeof v !== 'string' || !/^\s*\d+(-\d+)?(\s*,\s*\d+(-\d+)?)*\s*$/.test(v)) throw invalidOption(option, expected, v);
  const out = new Set<number>();
  for (const part of v.split(',')) {
    const [a, b] = part.trim().split('-').map(Number) as [number, number | undefined];
    const end = b ?? a;
    if (end < a || end - a > 65535) throw invalidOption(option, expected, v, `${a}-${end} is not a range`);
    for (let i = a; i <= end; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function listOf(ns: number[]): string {
  return ns.join(',');
}

/** The host's online CPUs / memory nodes, as the kernel lists them. */
export interface HostTopology {
  cpus: number[];
  mems: number[];
  /** The kernel's huge page sizes (none: a kernel without hugetlbfs). */
  hugePages?: HugePageSize[];
}

/** A huge page size: bytes, and its name in hugetlb cgroup files ('2MB', '1GB'). */
export interface HugePageSize {
  name: string;
  bytes: number;
}

function cpuset(option: string, v: unknown, host: HostTopology): NonNullable<NormalizedLimits['cpuset']> {
  const spec = typeof v === 'string' ? { cpus: v } : v;
  if (!isObject(spec)) throw invalidOption(option, "a CPU list like '0-1' or { cpus, mems }", v);
  checkKeys(option, spec, ['cpus', 'mems']);
  const out: NonNullable<NormalizedLimits['cpuset']> = {};
  for (const [key, have] of [
    ['cpus', host.cpus],
    ['mems', host.mems],
  ] as const) {
    const value = spec[key];
    if (value === undefined) continue;
    const name = typeof v === 'string' ? option : `${option}.${key}`;
    const list = parseCpuList(name, value);
    const missing = list.filter((n) => !have.includes(n));
    if (missing.length > 0) {
      throw new IsolateError(
        'ERR_INVALID_OPTION',
        `\`${name}\` names ${key === 'cpus' ? 'CPU' : 'memory node'}${missing.length > 1 ? 's' : ''} ${compact(missing)}, which this host does not have online (it has ${compact(have)})`,
        { option: name },
      );
    }
    out[key] = listOf(list);
  }
  return out;
}

/** '0,1,2,5' → '0-2,5' for messages. */
export function compact(ns: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ns.length; ) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    parts.push(j > i ? `${ns[i]}-${ns[j]}` : `${ns[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function memory(v: unknown, host: HostTopology): NonNullable<NormalizedLimits['memory']> {
  if (!isObject(v)) return { max: sizeOrMax('memory', v, MIN_MEMORY) };
  checkKeys('memory', v, ['max', 'high', 'low', 'swapMax', 'hugetlbMax']);
  const out: NonNullable<NormalizedLimits['memory']> = {};
  if (v.max !== undefined) out.max = sizeOrMax('memory.max', v.max, MIN_MEMORY);
  if (v.high !== undefined) out.high = sizeOrMax('memory.high', v.high, MIN_MEMORY);
  if (v.low !== undefined) out.low = parseSize('memory.low', v.low);
  if (v.swapMax !== undefined) out.swapMax = sizeOrMax('memory.swapMax', v.swapMax, 0);
  if (v.hugetlbMax !== undefined) out.hugetlbMax = hugetlbMax(v.hugetlbMax, host.hugePages ?? []);
  return out;
}

/**
 * `memory.hugetlbMax`, by the kernel's page-size names. A limit is rounded
 * down to whole pages, as the kernel does (so `limits` shows what is in force).
 */
function hugetlbMax(v: unknown, sizes: readonly HugePageSize[]): Record<string, Max> {
  const option = 'memory.hugetlbMax';
  if (sizes.length === 0) throw new IsolateError('ERR_UNSUPPORTED', `\`${option}\`: this kernel has no huge pages (no /sys/kernel/mm/hugepages)`, { option });
  const limit = (name: string, value: unknown, size: HugePageSize): Max => {
    const n = sizeOrMax(name, value, 0);
    return n === null ? null : n - (n % size.bytes);
  };
  const out: Record<string, Max> = {};
  if (!isObject(v)) {
    for (const size of sizes) out[size.name] = limit(option, v, size);
    return out;
  }
  const have = sizes.map((s) => s.name.replace(/B$/, '')).join(', ');
  for (const [key, value] of Object.entries(v)) {
    const name = `${option}.${key}`;
    let bytes: number | undefined;
    try {
      bytes = parseSize(name, key);
    } catch {
      /* named below */
    }
    const size = sizes.find((s) => s.bytes === bytes);
    if (!size) throw new IsolateError('ERR_INVALID_OPTION', `\`${option}\` names page size ${JSON.stringify(key)}, which this host does not have (it has ${have})`, { option: name });
    out[size.name] = limit(name, value, size);
  }
  return out;
}

function cpu(v: unknown): NonNullable<NormalizedLimits['cpu']> {
  if (!isObject(v)) throw invalidOption('cpu', '{ max: { quotaUs, periodUs }, weight }', v);
  checkKeys('cpu', v, ['max', 'weight']);
  const out: NonNullable<NormalizedLimits['cpu']> = {};
  if (v.max === 'max') {
    out.max = { quotaUs: null, periodUs: DEFAULT_PERIOD_US };
  } else if (v.max !== undefined) {
    if (!isObject(v.max)) throw invalidOption('cpu.max', "{ quotaUs, periodUs } or 'max'", v.max);
    checkKeys('cpu.max', v.max, ['quotaUs', 'periodUs']);
    const periodUs =
      v.max.periodUs === undefined ? DEFAULT_PERIOD_US : integer('cpu.max.periodUs', v.max.periodUs, 1000, 1_000_000, 'microseconds from 1000 to 1000000');
    const quotaUs = integer('cpu.max.quotaUs', v.max.quotaUs, 1000, MAX_QUOTA_US, `microseconds from 1000 to ${MAX_QUOTA_US}`);
    out.max = { quotaUs, periodUs };
  }
  if (v.weight !== undefined) out.weight = integer('cpu.weight', v.weight, 1, 10000);
  return out;
}

function cpus(v: unknown, host: HostTopology): NonNullable<NormalizedLimits['cpu']>['max'] {
  const n = host.cpus.length;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalidOption('cpus', `a positive number of CPUs (at most ${n} here)`, v);
  if (v > n) {
    throw new IsolateError('ERR_INVALID_OPTION', `\`cpus\` is ${v}, but this host has ${n} CPU${n > 1 ? 's' : ''} online`, { option: 'cpus' });
  }
  const quotaUs = Math.round(v * DEFAULT_PERIOD_US);
  if (quotaUs < 1000) throw invalidOption('cpus', 'at least 0.01', v);
  return { quotaUs, periodUs: DEFAULT_PERIOD_US };
}

/** Linux's dev_t split (glibc major()/minor()). */
export function devNumbers(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

/** A device given as a path or 'major:minor'; `kind` the type it must be. */
function deviceNumbers(option: string, v: unknown, kind: 'block' | 'any'): { type: 'b' | 'c'; major: number; minor: number } {
  if (typeof v !== 'string' || v === '') throw invalidOption(option, "a device path or 'major:minor'", v);
  const m = /^(\d+):(\d+)$/.exec(v);
  if (m) return { type: 'b', major: Number(m[1]), minor: Number(m[2]) };
  let st;
  try {
    st = statSync(v);
  } catch (err) {
    throw new IsolateError('ERR_INVALID_OPTION', `\`${option}\`: ${showValue(v)} cannot be read: ${(err as NodeJS.ErrnoException).code}`, {
      option,
      path: v,
      cause: err,
    });
  }
  const isBlock = st.isBlockDevice();
  if (!isBlock && (kind === 'block' || !st.isCharacterDevice())) {
    throw new IsolateError('ERR_INVALID_OPTION', `\`${option}\`: ${v} is not a ${kind === 'block' ? 'block ' : ''}device`, { option, path: v });
  }
  const [major, minor] = devNumbers(st.rdev);
  return { type: isBlock ? 'b' : 'c', major, minor };
}

function io(v: unknown): NonNullable<NormalizedLimits['io']> {
  if (!isObject(v)) throw invalidOption('io', '{ weight, max: [{ device, rbps, wbps, riops, wiops }] }', v);
  checkKeys('io', v, ['weight', 'max']);
  const out: NonNullable<NormalizedLimits['io']> = {};
  if (v.weight !== undefined) out.weight = integer('io.weight', v.weight, 1, 10000);
  if (v.max !== undefined) {
    if (!Array.isArray(v.max)) throw invalidOption('io.max', 'an array of { device, rbps, wbps, riops, wiops }', v.max);
    out.max = v.max.map((d: unknown, i) => {
      const o = `io.max[${i}]`;
      if (!isObject(d)) throw invalidOption(o, '{ device, rbps, wbps, riops, wiops }', d);
      checkKeys(o, d, ['device', 'rbps', 'wbps', 'riops', 'wiops']);
      const { major, minor } = deviceNumbers(`${o}.device`, d.device, 'block');
      const t: IoThrottle = { major, minor, device: d.device as string };
      if (d.rbps !== undefined) t.rbps = sizeOrMax(`${o}.rbps`, d.rbps);
      if (d.wbps !== undefined) t.wbps = sizeOrMax(`${o}.wbps`, d.wbps);
      if (d.riops !== undefined) t.riops = intOrMax(`${o}.riops`, d.riops, 1);
      if (d.wiops !== undefined) t.wiops = intOrMax(`${o}.wiops`, d.wiops, 1);
      return t;
    });
  }
  return out;
}

function access(option: string, v: unknown, dflt: string): string {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^[rwm]{1,3}$/.test(v) || new Set(v).size !== v.length) {
    throw invalidOption(option, "access letters from 'rwm' (read, write, mknod)", v);
  }
  return ['r', 'w', 'm'].filter((c) => v.includes(c)).join('');
}

function devNum(option: string, v: unknown): number {
  if (v === undefined || v === '*') return -1;
  return integer(option, v, 0, 0xfffff, "a device number, or '*'");
}

function deviceRule(option: string, v: unknown): DeviceRule {
  if (typeof v === 'string' && !v.startsWith('/')) {
    const m = /^([abc])(?:\s+(\d+|\*):(\d+|\*))?(?:\s+([rwm]+))?$/.exec(v.trim());
    if (!m) throw invalidOption(option, "a rule like 'c 1:3 rwm', 'a', or a device path", v);
    const type = m[1] as DeviceRule['type'];
    const num = (s: string | undefined) => (s === undefined || s === '*' ? -1 : devNum(option, Number(s)));
    return { type, major: num(m[2]), minor: num(m[3]), access: access(option, m[4], 'rwm') };
  }
  if (typeof v === 'string' || (isObject(v) && 'path' in v)) {
    const spec = typeof v === 'string' ? { path: v } : (v as Record<string, unknown>);
    checkKeys(option, spec, ['path', 'access']);
    const d = deviceNumbers(`${option}.path`, spec.path, 'any');
    return { ...d, access: access(`${option}.access`, spec.access, 'rw') };
  }
  if (!isObject(v)) throw invalidOption(option, "a rule like 'c 1:3 rwm', a path, or { type, major, minor, access }", v);
  checkKeys(option, v, ['type', 'major', 'minor', 'access']);
  if (v.type !== 'a' && v.type !== 'b' && v.type !== 'c') throw invalidOption(`${option}.type`, "'a', 'b' or 'c'", v.type);
  return { type: v.type, major: devNum(`${option}.major`, v.major), minor: devNum(`${option}.minor`, v.minor), access: access(`${option}.access`, v.access, 'rwm') };
}

/**
 * Checks `limits` and returns them normalized; throws ERR_INVALID_OPTION
 * naming the field. `host` bounds cpus and cpuset.
 */
export function normalizeLimits(limits: unknown, host: HostTopology): NormalizedLimits {
  if (!isObject(limits)) throw invalidOption('cgroup', 'an object of limits (or a CGroup)', limits);
  checkKeys('cgroup', limits, LIMIT_KEYS);
  const l = limits as CGroupLimits;
  const out: NormalizedLimits = {};
  if (l.memory !== undefined) out.memory = memory(l.memory, host);
  if (l.cpus !== undefined && l.cpu?.max !== undefined) {
    throw new IsolateError('ERR_INVALID_OPTION', '`cpus` and `cpu.max` say the same thing; give one', { option: 'cpus' });
  }
  if (l.cpu !== undefined) out.cpu = cpu(l.cpu);
  if (l.cpus !== undefined) out.cpu = { ...out.cpu, max: cpus(l.cpus, host) };
  if (l.cpuset !== undefined) out.cpuset = cpuset('cpuset', l.cpuset, host);
  if (l.pids !== undefined) out.pids = intOrMax('pids', l.pids, 1, MAX_PIDS);
  if (l.io !== undefined) out.io = io(l.io);
  if (l.devices !== undefined) {
    if (!Array.isArray(l.devices)) throw invalidOption('devices', "an array of rules like 'c 1:3 rwm'", l.devices);
    out.devices = l.devices.map((d, i) => deviceRule(`devices[${i}]`, d));
  }
  if (l.netClassId !== undefined) out.netClassId = integer('netClassId', l.netClassId, 0, 0xffffffff);
  return out;
}

/** Merges an update over the limits in force (field by field; io throttles by device). */
export function mergeLimits(base: NormalizedLimits, next: NormalizedLimits): NormalizedLimits {
  const out: NormalizedLimits = { ...base };
  if (next.memory) {
    out.memory = { ...base.memory, ...next.memory };
    if (base.memory?.hugetlbMax && next.memory.hugetlbMax) out.memory.hugetlbMax = { ...base.memory.hugetlbMax, ...next.memory.hugetlbMax };
  }
  if (next.cpu) out.cpu = { ...base.cpu, ...next.cpu };
  if (next.cpuset) out.cpuset = { ...base.cpuset, ...next.cpuset };
  if (next.pids !== undefined) out.pids = next.pids;
  if (next.io) {
    const byDev = new Map((base.io?.max ?? []).map((t) => [`${t.major}:${t.minor}`, t]));
    for (const t of next.io.max ?? []) byDev.set(`${t.major}:${t.minor}`, { ...byDev.get(`${t.major}:${t.minor}`), ...t });
    out.io = { ...base.io, ...next.io, max: [...byDev.values()] };
  }
  if (next.devices) out.devices = next.devices;
  if (next.netClassId !== undefined) out.netClassId = next.netClassId;
  return out;
}

/** cpu.weight (v2, 1..10000) → cpu.shares (v1, 2..262144), runc's formula. */
export function weightToShares(weight: number): number {
  return Math.floor(2 + ((weight - 1) * 262142) / 9999);
}

/** io.weight (v2, 1..10000) → blkio.weight (v1, 10..1000), runc's formula inverted. */
export function ioWeightToBlkio(weight: number): number {
  return Math.floor(10 + ((weight - 1) * 990) / 9999);
}

/**
 * A devices allow list as written to the kernel: the list, plus mknod (only)
 * of the nodes init makes in the container's /dev. The list is in force
 * from the container's first instruction (it joins the group at birth),
 * before init makes /dev: without these, a list without `m` for each
 * (['/dev/null'], say) failed every start at `mknod /dev/null` (EPERM).
 * Granting mknod of null, zero, full, random, urandom and tty gives a
 * payload nothing (it needs CAP_MKNOD, and these are in its /dev anyway);
 * reading or writing them still takes a rule of the list.
 */
export function deviceRulesWithInitNodes(rules: readonly DeviceRule[]): DeviceRule[] {
  return [...rules, ...DEVICES.map(([, major, minor]): DeviceRule => ({ type: 'c', major, minor, access: 'm' }))];
}
