/**
 * CGroup: one control group, on cgroup v2 or v1 alike. Limits are checked
 * when it is constructed (nothing is created then); `create()` makes the
 * directories and writes the limits, or a Container does at its start.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, existsSync, openSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import type { CgroupfsView } from '../filesystem';
import { IsolateError, invalidOption } from '../errors';
import { native } from '../native';
import { checkSignal } from '../process';
import type { CGroupStats, CgroupBackend, FinalFigures } from './backend';
import { checkParentBounds } from './parent-bounds';
import { hostTopology, noV1Hierarchy, readCgroupMounts, resolveParent, unusableV1, V1_NAMES, type CgroupParent } from './host';
import { controllersFor, mergeLimits, normalizeLimits, type CGroupLimits, type Max, type NormalizedLimits } from './limits';
import { V1Backend, v1SwapAccounting } from './v1';
import { V2Backend, v2SwapAccounting } from './v2';
import { setDeviceFilter } from './devices';
import { poolEnabled, takeAccounting, takeGroup, writesKey, type AccountingGroup, type GroupShape } from './pool';
import { forget, killOnExit, remember } from './registry';
import { holdOwnerMark, ownerId } from './owner';
import { evictFromHold } from './freezer-hold';
import { readControl, removeSubgroups, subgroups, thawBelow, whyBusy } from './files';
import { CAP_BPF, CAP_SYS_ADMIN, holdsHostCapability } from '../host-caps';
import { keepLimits, knownLimits, plainLimits } from './recent-limits';

export interface CGroupOptions {
  /**
   * Where to create it, as a cgroup path ('isolate-kit', '/my.slice/jobs').
   * @default 'isolate-kit' at the root of each hierarchy when root; the
   * caller's delegated cgroup otherwise
   */
  parent?: string;
}

export interface CGroupEvents {
  /** The OOM killer ended a process in the group; `oomKills` counts them all so far. */
  oom: (oomKills: number) => void;
}

/** v1 hierarchies a container sees at /sys/fs/cgroup (when its group is in them). */
const INSIDE_V1 = ['memory', 'cpu', 'cpuset', 'pids', 'blkio', 'hugetlb'];

/**
 * A ready group for the pool: the directories of a group in the base
 * hierarchies, the files a container's start and end use opened ahead
 * (placement, what the end reads), and `limits` written ahead where
 * they can be, else their files opened ahead (either is part of the key).
 */
function readyShape(b: CgroupBackend, limits: NormalizedLimits): GroupShape {
  const p = b.placement();
  const open: GroupShape['open'] = [];
  if (p.intoDir !== undefined) open.push([p.intoDir, 'd']);
  for (const f of p.joinFiles) open.push([f, 'w']);
  for (const f of b.statFiles(true)) open.push([f, 'r']);
  const writes = b.poolWrites(limits);
  if (!writes) for (const f of b.limitFiles(limits)) open.push([f, 'w']);
  return { dirs: [...b.dirs], open, writes: writes ?? [] };
}

/**
 * A kept cpuacct group to reuse (v1, with the pool on), when this group may
 * have one: cpuacct has a hierarchy of its own or shares it only with
 * cpu that this group does not limit (so nothing is written to it, and the
 * sandbox's /sys/fs/cgroup does not show it). Undefined: make one as usual.
 */
function reusableAccounting(parent: CgroupParent, controllers: readonly string[]): AccountingGroup | undefined {
  const dir = parent.v1Dirs.get('cpuacct');
  if (!dir || noAccounting.has(dir)) return undefined;
  const mount = readCgroupMounts().v1.get('cpuacct');
  const others = (mount && readCgroupMounts().v1Controllers.get(mount)) || 'cpuacct';
  if (others !== 'cpuacct' && (others !== 'cpu,cpuacct' || controllers.includes('cpu'))) return undefined;
  const g = takeAccounting(dir, () => V1Backend.makeAccounting(dir, newCgroupName()));
  // Its files cannot be opened here (an old kernel without usage_all): stop trying.
  if (!g) noAccounting.add(dir);
  return g;
}

/** cpuacct parents where an accounting group could not be made ready. */
const noAccounting = new Set<string>();

/**
 * Per parent, a group named '' without and with a cpuacct directory of its
 * own, each without and with a hugetlb one (v1: a memory limit's huge page
 * limits): what pooled groups look like.
 */
const templates = new WeakMap<CgroupParent, (CgroupBackend | undefined)[]>();

/** The hierarchies beyond the base ones a pooled v1 group has: hugetlb, when the limits need it. */
function pooledExtra(controllers: readonly string[]): string[] {
  return controllers.includes('hugetlb') ? ['hugetlb'] : [];
}

/**
 * The pool's key for a group under `parent` with `limits`: its directories
 * (with or without a cpuacct directory of its own) and the limit files it
 * writes, marked when a pooled group can have them written ahead; and
 * `writes`, what that would write (writesKey), to compare with a slot's.
 * A judge that gives every run the same limits finds them written; other
 * values with the same files are written at start as usual.
 */
function poolKey(parent: CgroupParent, withAccounting: boolean, extra: string[], limits: NormalizedLimits): PoolKey {
  let t = templates.get(parent);
  if (!t) templates.set(parent, (t = []));
  const i = (withAccounting ? 1 : 0) + (extra.length > 0 ? 2 : 0);
  const b = (t[i] ??= parent.version === 2 ? new V2Backend(parent.v2Dir!, '') : new V1Backend(parent, '', extra, withAccounting ? undefined : 'none'));
  // Limits kept by recent-limits.ts are one frozen object per set: their key once.
  let byTemplate = Object.isFrozen(limits) ? poolKeys.get(limits) : undefined;
  const seen = byTemplate?.get(b);
  if (seen) return seen;
  const writes = b.poolWrites(limits);
  const files = b.limitFiles(limits).map((f) => basename(f));
  const key = { key: `${b.dirs.join('\0')}\0${writes ? '=' : ''}${files.join('\0')}`, writes: writes && writesKey(writes) };
  if (Object.isFrozen(limits)) {
    if (!byTemplate) poolKeys.set(limits, (byTemplate = new Map()));
    byTemplate.set(b, key);
  }
  return key;
}

interface PoolKey {
  key: string;
  writes: string | undefined;
}

/** poolKey()'s answers for the frozen limits recent-limits.ts keeps, per template. */
const poolKeys = new WeakMap<NormalizedLimits, Map<CgroupBackend, PoolKey>>();

/**
 * The last part of a name: a counter from a random start, so each copy of
 * this module (worker threads share the pid) counts in its own stretch of
 * the 40-bit space without a call into crypto for every group.
 */
let nameCounter: number | undefined;

/**
 * Names of groups removed, for the next ones (most recent first). The
 * kernel keeps a negative dentry for each name removed from a directory, so
 * a fresh name per container would add one to its caches for good; a name
 * used again turns it back into the new group's. Only names whose
 * directories are gone from every hierarchy come here.
 */
const freeNames: string[] = [];
const FREE_NAMES_KEPT = 64;

/**
 * When to read a v1 group's OOM kill count again after its eventfd fired
 * and the count had not moved (ms between looks; ~1.3 s in all): the kill
 * lands once the OOM killer has chosen, which can take a while on a busy
 * host. Every OOM fires it again, so a later one is not missed either way.
 */
const V1_OOM_RECHECK_MS = [1, 4, 16, 64, 250, 1000] as const;

/** How long a v1 freeze may stay FREEZING before it is thawed and asked again (freeze() says why). */
const V1_REFREEZE_MS = 10;

/** Gives the name of a group whose directories are all removed back for reuse. */
export function recycleCgroupName(name: string): void {
  if (freeNames.length < FREE_NAMES_KEPT) freeNames.push(name);
}

/** `<owner pid>-<owner start time>-<10 hex digits>`: what gc() parses (with the owner's mark: owner.ts). A removed group's name when there is one. */
export function newCgroupName(): string {
  const reused = freeNames.pop();
  if (reused !== undefined) return reused;
  nameCounter = ((nameCounter ?? randomBytes(5).readUIntBE(0, 5)) + 1) % 2 ** 40;
  return `${ownerId()}-${nameCounter.toString(16).padStart(10, '0')}`;
}


/** Checks that this host and parent can do what `l` asks; throws ERR_UNSUPPORTED naming it. */
function checkSupported(l: NormalizedLimits, parent: CgroupParent): void {
  if (parent.version === 2 && l.netClassId !== undefined) {
    throw new IsolateError('ERR_UNSUPPORTED', '`netClassId` is cgroup v1 only (net_cls); on cgroup v2 match the cgroup path in nftables (`socket cgroupv2`) instead', {
      option: 'netClassId',
    });
  }
  if (parent.version === 1 && l.memory?.high !== undefined && l.memory.high !== null) {
    throw new IsolateError('ERR_UNSUPPORTED', '`memory.high` has no cgroup v1 equivalent (v1 has no throttling point); use memory.max', { option: 'memory.high' });
  }
  // A device given as 'major:minor' must be a block device the kernel has
  // (the io controller refuses others with ENODEV, at start, after the
  // group was made); a path was checked when the limits were read.
  for (const [i, t] of (l.io?.max ?? []).entries()) {
    const sys = `/sys/dev/block/${t.major}:${t.minor}`;
    if (/^\d+:\d+$/.test(t.device) && !existsSync(sys)) {
      throw new IsolateError('ERR_INVALID_OPTION', `\`io.max[${i}].device\`: ${t.device} is not a block device on this host (no ${sys})`, {
        option: `io.max[${i}].device`,
      });
    }
    // The kernel throttles whole disks only: a partition is ENODEV at the
    // write (v1 and v2), after the group was made.
    if (existsSync(`${sys}/partition`)) {
      const disk = wholeDisk(sys);
      throw new IsolateError(
        'ERR_INVALID_OPTION',
        `\`io.max[${i}].device\`: ${t.device} (${t.major}:${t.minor}) is a partition, and the kernel throttles whole disks only${disk ? `: give its disk, /dev/${disk.name} (${disk.dev})` : ''}`,
        { option: `io.max[${i}].device` },
      );
    }
  }
  if (l.devices && !mayFilterDevices(parent.version)) {
    throw new IsolateError(
      'ERR_PERMISSION',
      `\`devices\` needs CAP_SYS_ADMIN in the host's user namespace (root): the kernel takes a device allow list from no one else (${parent.version === 2 ? 'cgroup v2: loading its BPF program, which CAP_BPF also allows' : 'cgroup v1: writing devices.deny and devices.allow'}), delegated or not`,
      { option: 'devices' },
    );
  }
  for (const c of controllersFor(l)) {
    // v2 devices are a BPF program, not a controller.
    if (parent.version === 2 && c === 'devices') continue;
    if (parent.controllers.has(c)) continue;
    const name = parent.version === 1 ? V1_NAMES[c] : c;
    const where =
      parent.version === 2
        ? notEnabledV2(parent, name)
        : ((unusableV1.get(parent.name === 'delegated' ? '' : parent.name) ?? []).find((p) => p.startsWith(`${name}:`)) ?? noV1Hierarchy(name));
    const option = c === 'net_cls' ? 'netClassId' : c === 'hugetlb' ? 'memory.hugetlbMax' : c;
    throw new IsolateError('ERR_UNSUPPORTED', `The ${name} cgroup controller is not available on this host: ${where}`, { option });
  }
  checkParentBounds(l, parent);
}

/** The disk a partition's /sys/dev/block entry is part of: its name and 'major:minor'. */
function wholeDisk(sys: string): { name: string; dev: string } | undefined {
  try {
    const dir = dirname(realpathSync(sys));
    return { name: basename(dir), dev: readFileSync(join(dir, 'dev'), 'utf8').trim() };
  } catch {
    return undefined;
  }
}

/**
 * Why a v2 parent's groups lack a controller, for messages. One case said
 * precisely (the nineteenth review): the group above the parent offers
 * the controller but holds processes, and the kernel hands memory, io and
 * the like to the groups below one only when it has none. That is Node in
 * its cgroup namespace's root (a privileged container on a v2 host), or a
 * parent made below a group with processes: the host is not to blame.
 */
function notEnabledV2(parent: CgroupParent, controller: string): string {
  const dir = parent.v2Dir!;
  const up = dirname(dir);
  const words = (f: string) => (readControl(join(up, f)) ?? '').split(/\s+/).filter(Boolean);
  // (Not the hierarchy's root, which is exempt: it has no cgroup.type.)
  if (up !== dir && existsSync(join(up, 'cgroup.type')) && words('cgroup.controllers').includes(controller) && !words('cgroup.subtree_control').includes(controller)) {
    const procs = (readControl(join(up, 'cgroup.procs')) ?? '').split('\n').filter(Boolean);
    if (procs.length > 0) {
      return (
        `${up} has it but cannot hand it on to ${dir}: processes run in ${up} itself (${procs.length}; this one among them where it is its cgroup namespace's root, as in a privileged container), ` +
        `and the kernel enables ${controller} for the groups below a group only when that group has none. Move them into a group of their own below it first ` +
        `(e.g. \`mkdir ${up}/init && for p in $(cat ${up}/cgroup.procs); do echo $p > ${up}/init/cgroup.procs; done\`, as Docker-in-Docker's entrypoint does); see docs/cgroups.md`
      );
    }
  }
  return `it is not enabled for ${dir} (see its cgroup.controllers and the parent's cgroup.subtree_control)`;
}

/**
 * Whether this process may set a devices list: v1's devices.allow takes
 * CAP_SYS_ADMIN, v2's BPF_PROG_LOAD of a device program CAP_SYS_ADMIN or
 * CAP_BPF, each in the initial user namespace, whoever owns the group.
 * Without them the list failed at create() with EPERM, after the
 * constructor had accepted it.
 */
function mayFilterDevices(version: 1 | 2): boolean {
  return holdsHostCapability(CAP_SYS_ADMIN) || (version === 2 && holdsHostCapability(CAP_BPF));
}

/**
 * A memory limit is a limit on memory, swap included: `memory: '64M'` gives
 * no swap (swapMax 0) unless swapMax says otherwise, where the kernel counts
 * swap. Left to the kernel's default, a group may swap without bound (v2's
 * memory.swap.max and v1's memsw start unlimited): a payload under 32M held
 * 128 MiB, 96 of it swapped out, with status 'ok' and a peak of 32M, and
 * one container could fill the host's swap. (Docker gives as much swap as
 * memory; Kubernetes and judges' sandboxes none: a judge's limit must mean
 * what it says.) Where the kernel does not count swap (v1 without
 * swapaccount=1) nothing can be done here; probe() says so.
 */
function noSwapByDefault(l: NormalizedLimits, parent: CgroupParent): NormalizedLimits {
  const m = l.memory;
  if (!m || m.max === undefined || m.max === null || m.swapMax !== undefined || !swapAccounting(parent)) return l;
  return { ...l, memory: { ...m, swapMax: 0 } };
}

/**
 * Huge pages are not memory to memory.max (nor, before 6.6's
 * memory_hugetlb_accounting, charged to it at all): a `memory: '32M'`
 * payload took 180 MiB of a host's 200 MiB pool, which other programs had
 * reserved it for. So a memory limit gives each page size a hugetlb limit
 * of 0 unless hugetlbMax says otherwise, as Kubernetes does for pods that
 * ask for none; where groups can have one: the hugetlb controller, on
 * v2 or in a v1 hierarchy (not a hybrid host's cgroup2 mount: noV1Hierarchy).
 */
function noHugetlbByDefault(l: NormalizedLimits, parent: CgroupParent, had?: Record<string, Max>): NormalizedLimits {
  const m = l.memory;
  if (!m || m.max === undefined || m.max === null || !hugetlbLimits(parent)) return l;
  const missing = (hostTopology().hugePages ?? []).filter((s) => m.hugetlbMax?.[s.name] === undefined && had?.[s.name] === undefined);
  if (missing.length === 0) return l;
  return { ...l, memory: { ...m, hugetlbMax: { ...m.hugetlbMax, ...Object.fromEntries(missing.map((s) => [s.name, 0])) } } };
}

/** Whether groups under `parent` can have hugetlb limits (cgroup v2, or a v1 hugetlb hierarchy). */
function hugetlbLimits(parent: CgroupParent): boolean {
  return parent.controllers.has('hugetlb');
}

/** What a memory limit brings with it unless given: no swap, no huge pages. */
function memoryDefaults(l: NormalizedLimits, parent: CgroupParent): NormalizedLimits {
  return noHugetlbByDefault(noSwapByDefault(l, parent), parent);
}

/** Whether groups under `parent` can have a swap limit (v2 memory.swap.max, v1 memory.memsw.*). */
function swapAccounting(parent: CgroupParent): boolean {
  if (parent.version === 1) {
    const dir = parent.v1Dirs.get('memory');
    return dir !== undefined && v1SwapAccounting(dir);
  }
  return parent.controllers.has('memory') && v2SwapAccounting(parent.v2Dir!);
}

/**
 * v2 caps a group's memory.low at what its ancestors' memory.low allow,
 * and the parent's is 0 unless someone writes it: a group's `memory.low`
 * then protected nothing (a container with low 700M holding 623 MB of page
 * cache fell to 513 under host pressure; 623 kept with the parent's set).
 * So the parent's is kept at the sum of its groups' (not 'max': with the
 * memory_recursiveprot mount option, systemd's default, a parent's
 * protection nobody claims goes to every group below it, and all sandboxes
 * would be kept from reclaim). Read from the kernel each time, so groups of
 * other processes count too; only when a group with a low changes. Where
 * the parent's file is not ours to write (a delegated parent: its own
 * memory.low is the delegator's), it is left as it is.
 */
function syncParentLow(parentDir: string): void {
  let sum = 0;
  try {
    for (const e of readdirSync(parentDir, { withFileTypes: true })) {
      if (e.isDirectory()) sum += Number(readControl(`${parentDir}/${e.name}/memory.low`)?.trim()) || 0;
    }
    writeFileSync(`${parentDir}/memory.low`, String(sum));
  } catch {
    /* not ours to write, or gone */
  }
}

/** Parents this process has made its owner mark in (once each: create() is on the start path). */
const marked = new WeakSet<CgroupParent>();

/** Where this process's owner mark goes under `parent` (owner.ts): one hierarchy's directory, pids' where there is one (a cheap group). */
function markDir(parent: CgroupParent): string {
  if (parent.version === 2) return parent.v2Dir!;
  return parent.v1Dirs.get('pids') ?? parent.v1Dirs.get('cpuacct') ?? [...parent.v1Dirs.values()][0]!;
}

/** The limits one at a time, in the order apply() writes them (update() applies and records each on its own). */
function splitLimits(l: NormalizedLimits): NormalizedLimits[] {
  const out: NormalizedLimits[] = [];
  if (l.memory) out.push({ memory: l.memory });
  if (l.cpu) out.push({ cpu: l.cpu });
  if (l.cpuset) out.push({ cpuset: l.cpuset });
  if (l.pids !== undefined) out.push({ pids: l.pids });
  if (l.io?.weight !== undefined) out.push({ io: { weight: l.io.weight } });
  for (const t of l.io?.max ?? []) out.push({ io: { max: [t] } });
  if (l.devices) out.push({ devices: l.devices });
  if (l.netClassId !== undefined) out.push({ netClassId: l.netClassId });
  return out;
}

/**
 * What the group had for the fields of `part` (from `current`, the limits
 * in force; a field never set is the kernel's default, no limit), to put
 * back after the kernel refused part of it. Devices and cpuset are left as
 * they are: their default is not "no limit" but the parent's.
 */
function previousOf(current: NormalizedLimits, part: NormalizedLimits): NormalizedLimits {
  const out: NormalizedLimits = {};
  if (part.memory) {
    const c = current.memory ?? {};
    const m: NonNullable<NormalizedLimits['memory']> = {};
    if (part.memory.max !== undefined) m.max = c.max ?? null;
    if (part.memory.high !== undefined) m.high = c.high ?? null;
    if (part.memory.low !== undefined) m.low = c.low ?? 0;
    if (part.memory.swapMax !== undefined) m.swapMax = c.swapMax ?? null;
    if (part.memory.hugetlbMax) m.hugetlbMax = Object.fromEntries(Object.keys(part.memory.hugetlbMax).map((k) => [k, c.hugetlbMax?.[k] ?? null]));
    out.memory = m;
  }
  if (part.cpu) {
    const c = current.cpu ?? {};
    out.cpu = {};
    if (part.cpu.max) out.cpu.max = c.max ?? { quotaUs: null, periodUs: part.cpu.max.periodUs };
    // (A weight never set stays as the refused write left it: v1's default shares have no exact weight.)
    if (part.cpu.weight !== undefined && c.weight !== undefined) out.cpu.weight = c.weight;
  }
  if (part.pids !== undefined) out.pids = current.pids ?? null;
  if (part.io?.weight !== undefined && current.io?.weight !== undefined) out.io = { weight: current.io.weight };
  for (const t of part.io?.max ?? []) {
    const was = current.io?.max?.find((x) => x.major === t.major && x.minor === t.minor);
    const back = { ...t };
    for (const k of ['rbps', 'wbps', 'riops', 'wiops'] as const) if (t[k] !== undefined) back[k] = was?.[k] ?? null;
    out.io = { max: [back] };
  }
  return out;
}

/** A control group: limits, live figures, freeze/thaw, kill. See docs/cgroups.md. */
export class CGroup extends EventEmitter<CGroupEvents> {
  /** Made on first use: a pooled group brings its own. */
  private groupName: string | undefined;
  private current: NormalizedLimits;
  private readonly parent: CgroupParent;
  private backend: CgroupBackend | undefined;
  private removed = false;
  private oomWatch: { close(): void } | undefined;
  private oomSeen = 0;
  private destroying: Promise<void> | undefined;
  /** thaw() calls so far: a freeze() in progress sees one and gives up. */
  private thaws = 0;
  /** Its directories are marked for killing on exit (registry.killOnExit): a container made it, and uses it. */
  private killMarked = false;
  /** Set by a Container that created this group and so removes it. */
  _ownedBy: object | undefined;
  /** @internal addProcess() put a process in: one from outside the container's pid namespace may be here (Container removes the group at once). */
  _hadOutsiders = false;
  /**
   * @internal Called with `paths` when the group joins a hierarchy after its
   * creation (v1: the freezer at the first freeze(), cpu, cpuset, … at an
   * update()): a worker's Container hands them to the addon, which removes
   * them should the worker end with the container running.
   */
  _onDirsAdded: ((paths: string[]) => void) | undefined;

  /** cgroup version of this host: 2 (unified), 1 (v1 or hybrid), or null (no cgroups mounted). */
  static version(): 1 | 2 | null {
    const layout = readCgroupMounts().layout;
    return layout === 'none' ? null : layout === 'v2' ? 2 : 1;
  }

  /**
   * Checks the limits against this host (ERR_INVALID_OPTION, ERR_UNSUPPORTED,
   * ERR_PERMISSION); creates nothing but the shared parent on first use.
   */
  constructor(limits: CGroupLimits = {}, options: CGroupOptions = {}) {
    super();
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'an object', options);
    for (const k of Object.keys(options)) {
      if (k !== 'parent') throw new IsolateError('ERR_INVALID_OPTION', `Unknown CGroup option \`${k}\`; known: parent`, { option: k });
    }
    // Limits given before (plain data, as a judge gives them every run): as
    // they came to then (recent-limits.ts).
    const plain = typeof options.parent === 'string' || options.parent === undefined ? plainLimits(limits) : undefined;
    const key = plain && `${options.parent === undefined ? '' : `=${options.parent}`}\0${plain.key}`;
    const seen = key === undefined ? undefined : knownLimits(key);
    if (seen && resolveParent(options.parent) === seen.parent) {
      this.parent = seen.parent;
      this.current = seen.current;
      return;
    }
    // Bad limits are refused before resolveParent() makes the parent.
    const given = normalizeLimits(plain ? plain.copy : limits, hostTopology());
    this.parent = resolveParent(options.parent);
    this.current = memoryDefaults(given, this.parent);
    checkSupported(this.current, this.parent);
    if (key !== undefined) keepLimits(key, this.parent, this.current);
  }

  /** The directory name, `<owner pid>-<start time>-<counter>` (final once created; once destroyed, a later group may be given it). */
  get name(): string {
    return (this.groupName ??= newCgroupName());
  }

  /** 1 or 2: the backend this group uses. */
  get version(): 1 | 2 {
    return this.parent.version;
  }

  /** The limits in force (normalized: bytes, µs; null = no limit). */
  get limits(): NormalizedLimits {
    return structuredClone(this.current);
  }

  /** Its directories (one on v2, one per hierarchy on v1); empty until created. */
  get paths(): string[] {
    return this.backend && !this.removed ? [...this.backend.dirs] : [];
  }

  get created(): boolean {
    return this.backend !== undefined && !this.removed;
  }

  /** Makes the group and writes its limits. A failure leaves nothing behind. */
  create(): this {
    if (this.removed) throw new IsolateError('ERR_STATE', 'This CGroup was destroyed; make a new one');
    if (this.backend) return this;
    const parent = this.parent;
    const v2 = parent.version === 2;
    // Held once per parent; tried again at the next group when it could
    // not be (a full fd table, say), and a failed read of our own start
    // time throws here, before anything is made.
    if (!marked.has(parent) && holdOwnerMark(markDir(parent))) marked.add(parent);
    const controllers = v2
      ? []
      : controllersFor(this.current)
          .filter((c) => c !== 'memory' && c !== 'pids')
          .map((c) => V1_NAMES[c]);
    const pooled = poolEnabled();
    const acct = v2 || !pooled ? undefined : reusableAccounting(parent, controllers);
    const shape = acct ? 'none' : undefined;
    const limits = this.current;
    const extra = pooledExtra(controllers);
    const pool = pooled ? poolKey(parent, !acct, extra, limits) : undefined;
    const slot = pool
      ? takeGroup(pool.key, (name) => readyShape(v2 ? new V2Backend(parent.v2Dir!, name) : new V1Backend(parent, name, extra, shape), limits), newCgroupName)
      : undefined;
    if (slot) this.groupName = slot.name;
    const b = v2 ? new V2Backend(parent.v2Dir!, this.name) : new V1Backend(parent, this.name, controllers, acct);
    if (slot) b.files.adopt(slot.fds);
    try {
      b.create(slot?.dirs);
    } catch (err) {
      // What it made (a step after the mkdirs failed: a v1 cpuset copy) goes too.
      try {
        b.remove();
      } catch {
        /* the error below says what went wrong */
      }
      b.files.closeAll();
      throw err;
    }
    remember(b.dirs);
    try {
      // A pooled group may have them written already.
      if (!(slot && pool?.writes !== undefined && slot.written === pool.writes)) b.apply(this.current);
      if (this.current.devices && b.version === 2) setDeviceFilter(b.dirs[0]!, this.current.devices);
      if (b.version === 2 && this.current.memory?.low) syncParentLow(parent.v2Dir!);
    } catch (err) {
      b.remove();
      forget(b.dirs);
      throw err;
    }
    this.backend = b;
    if (this.listenerCount('oom') > 0) this.watchOom();
    return this;
  }

  /** Moves a process (and its future children) into the group. */
  addProcess(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw invalidOption('pid', 'a pid', pid);
    const b = this.live('addProcess()');
    this._hadOutsiders = true;
    for (const file of b.placement().procsFiles) {
      try {
        writeFileSync(file, String(pid));
      } catch (err) {
        throw new IsolateError('ERR_SETUP_FAILED', `Cannot move pid ${pid} into ${file}: ${(err as NodeJS.ErrnoException).code}`, { path: file, cause: err });
      }
    }
  }

  /** What the group has used so far. */
  stats(): CGroupStats {
    const s = this.live('stats()').stats();
    this.noticeOom(s.memory.oomKills);
    return s;
  }

  /** Changes limits live (only the fields given; 'max' lifts one). */
  update(limits: CGroupLimits): void {
    if (this.removed) throw new IsolateError('ERR_STATE', 'CGroup update(): the cgroup was destroyed');
    const next = normalizeLimits(limits, hostTopology());
    checkSupported(next, this.parent);
    const b = this.backend;
    if (b) {
      const parts = splitLimits(next).map((given) => this.withMemoryDefaults(given));
      // v1: a limit whose hierarchy the group was made without joins it now
      // (hugetlb's too, for the huge page limits a new memory limit brings),
      // moving the group's processes in (joinLater says how).
      if (b.version === 1) {
        const before = b.dirs.length;
        try {
          for (const c of parts.flatMap(controllersFor)) (b as V1Backend).joinLater(V1_NAMES[c], `update() of \`${c === 'hugetlb' ? 'memory.hugetlbMax' : c}\``);
        } finally {
          this.noticeDirs(before);
        }
      }
      // One limit at a time, each in force once written: when the kernel
      // refuses one, `limits` still says what the group has (the ones before
      // it took effect; the refused one's earlier writes are put back).
      for (const part of parts) {
        try {
          b.apply(part);
          if (part.devices && b.version === 2) setDeviceFilter(b.dirs[0]!, part.devices);
        } catch (err) {
          try {
            b.apply(previousOf(this.current, part));
          } catch {
            /* as good as it gets: the error says which limit failed */
          }
          throw err;
        }
        this.current = mergeLimits(this.current, part);
        if (b.version === 2 && part.memory?.low !== undefined) syncParentLow(this.parent.v2Dir!);
      }
      return;
    }
    this.current = memoryDefaults(mergeLimits(this.current, next), this.parent);
  }

  /**
   * An update's memory part with what a new memory.max brings: the swap
   * allowance in force (v1 writes memsw = max + swapMax, so it must know
   * it; no read needed), or none, as at creation; and a hugetlb limit of 0
   * for each page size that has none yet.
   */
  private withMemoryDefaults(given: NormalizedLimits): NormalizedLimits {
    const m = given.memory;
    if (m?.max === undefined) return given;
    const swapMax = m.swapMax ?? this.current.memory?.swapMax ?? noSwapByDefault(given, this.parent).memory?.swapMax;
    const withSwap = swapMax !== undefined ? { ...given, memory: { ...m, swapMax } } : given;
    return noHugetlbByDefault(withSwap, this.parent, this.current.memory?.hugetlbMax);
  }

  // The OOM notification costs an fd, an eventfd registration (v1) and a
  // poll handle: armed only once someone listens for 'oom'. RunResult and
  // stats() read the count itself and need none of it.
  override on<T extends EventEmitter.EventNames<CGroupEvents>>(event: T, fn: EventEmitter.EventListener<CGroupEvents, T>, context?: unknown): this {
    super.on(event, fn, context);
    if (event === 'oom') this.watchOom();
    return this;
  }

  override addListener<T extends EventEmitter.EventNames<CGroupEvents>>(event: T, fn: EventEmitter.EventListener<CGroupEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<CGroupEvents>>(event: T, fn: EventEmitter.EventListener<CGroupEvents, T>, context?: unknown): this {
    super.once(event, fn, context);
    if (event === 'oom') this.watchOom();
    return this;
  }

  /** Freezes every process in the group; resolves once they are all frozen. */
  async freeze(options: { timeout?: number } = {}): Promise<void> {
    const b = this.live('freeze()');
    const epoch = this.thaws;
    const before = b.dirs.length;
    let done: boolean;
    try {
      done = b.freeze(); // v1: joins the freezer the first time
    } finally {
      this.noticeDirs(before);
    }
    if (done) return;
    const deadline = Date.now() + (options.timeout ?? 5000);
    let asked = Date.now();
    for (let delay = 0; !b.frozen(); delay = Math.min(delay * 2 || 1, 50)) {
      // thaw() (a kill must thaw) or destroy() meanwhile: this freeze is off.
      if (this.thaws !== epoch || this.removed) throw new IsolateError('ERR_STATE', `The cgroup was ${this.removed ? 'destroyed' : 'thawed'} before it froze`);
      if (Date.now() > deadline) {
        b.thaw();
        throw new IsolateError('ERR_STATE', `The cgroup did not freeze within ${options.timeout ?? 5000} ms`);
      }
      // v1 can stay FREEZING for good: a process that vforked (init starting
      // one) and was not yet asleep when the freeze went by is never frozen
      // once it sleeps, while its child, frozen before its exec, never lets
      // it go. Thawing and freezing again catches it asleep (runc does the
      // same). Seen in ~1 in 10 pauses right after an exec() on this VM.
      if (b.version === 1 && Date.now() - asked >= V1_REFREEZE_MS) {
        b.thaw();
        if (b.freeze()) return;
        asked = Date.now();
      }
      await new Promise((r) => (delay === 0 ? setImmediate(r) : setTimeout(r, delay)));
    }
  }

  /** Lets frozen processes run again. */
  thaw(): void {
    this.thaws++;
    this.live('thaw()').thaw();
  }

  /** Whether the group is frozen. */
  get frozen(): boolean {
    return this.backend !== undefined && !this.removed && this.backend.frozen();
  }

  /** Signals every process in the group (SIGKILL through cgroup.kill where the kernel has it). */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): void {
    this.live('kill()').kill(checkSignal(signal));
  }

  /** @internal Thaws the groups made below this one (a payload's, frozen by it); whether any was frozen. */
  _thawBelow(): boolean {
    let frozen = false;
    if (this.backend && !this.removed) for (const d of this.backend.dirs) if (thawBelow(d)) frozen = true;
    if (this._evictHold()) frozen = true;
    return frozen;
  }

  /** @internal v1: moves out what a payload put in the freezer's hold, frozen there through any kill (freezer-hold.ts); whether there was any. */
  _evictHold(): boolean {
    return this.backend !== undefined && !this.removed && this.backend.version === 1 && evictFromHold();
  }

  /** pids in the group. */
  procs(): number[] {
    return this.backend && !this.removed ? this.backend.procs() : [];
  }

  /**
   * Removes the group: kills what is left in it, then rmdir, retried while
   * the kernel still counts exiting processes. Idempotent.
   */
  destroy(): Promise<void> {
    // Once: a second call while the first waits for processes to die gets
    // the same promise (two would give the name back twice).
    return (this.destroying ??= this.removeGroup());
  }

  private async removeGroup(): Promise<void> {
    if (this.removed || !this.backend) {
      this.removed = true;
      return;
    }
    const b = this.backend;
    this.stopWatch();
    if (!b.remove()) {
      for (let i = 0; ; i++) {
        b.kill(9);
        try {
          if (b.frozen()) b.thaw(); // a frozen process cannot die
        } catch {
          /* gone meanwhile */
        }
        await new Promise((r) => setTimeout(r, Math.min(1 + i * 2, 50)));
        // Groups a payload made below its own (uid 0, its own cgroup mount) keep it busy too.
        for (const d of b.dirs) removeSubgroups(d);
        if (b.remove()) break;
        if (i > 200) {
          const d = b.dirs.find((x) => subgroups(x).length > 0 || b.procs().length > 0) ?? b.dirs[0]!;
          this.destroying = undefined; // a later destroy() tries again
          throw new IsolateError('ERR_STATE', `Cannot remove the cgroup ${b.dirs.join(', ')}: ${whyBusy(d)}`, { path: d });
        }
      }
    }
    forget(b.dirs);
    this.removed = true;
    recycleCgroupName(this.name);
    if (b.version === 2 && this.current.memory?.low) syncParentLow(this.parent.v2Dir!);
  }

  /** Tells _onDirsAdded when the backend has more directories than `before`. */
  private noticeDirs(before: number): void {
    const b = this.backend;
    if (b && b.dirs.length !== before) this._onDirsAdded?.(this.paths);
  }

  /** @internal for the addon's spawn: [v2 dir or '', ...files to join], each an fd opened ahead or a path (the addon opens it). */
  _placementPaths(): (string | number)[] {
    const b = this.live('use in a container');
    // A group its container made dies with it anyway (its init sees the Node
    // process go); a caller's may also hold the caller's own processes.
    if (!this.killMarked && this._ownedBy !== undefined) {
      this.killMarked = true;
      killOnExit(b.dirs);
    }
    const p = b.placement();
    const fd = (path: string) => b.files.fdFor(path) ?? path;
    return [p.intoDir === undefined ? '' : fd(p.intoDir), ...p.joinFiles.map(fd)];
  }

  /** @internal What a container with this group mounts at /sys/fs/cgroup. */
  _insideView(): CgroupfsView {
    const b = this.live('use in a container');
    if (b.version === 2) return { version: 2 };
    const mounts = readCgroupMounts();
    const v1 = b as V1Backend;
    const hierarchies = new Map<string, { name: string; controllers: string; dir: string }>();
    // What runtimes read to size themselves (memory, CPU quota and set,
    // pids); the accounting-only hierarchies stay out: a mount each.
    for (const c of v1.joined()) {
      const m = mounts.v1.get(c);
      // A hierarchy is mounted with all its controllers ('cpu,cpuacct').
      if (m && INSIDE_V1.includes(c) && !hierarchies.has(m)) hierarchies.set(m, { name: basename(m), controllers: mounts.v1Controllers.get(m)!, dir: v1.dirOf(c)! });
    }
    return { version: 1, hierarchies: [...hierarchies.values()], hostRoot: mounts.v1Root };
  }

  /**
   * @internal OOM kills so far (one file read); once the group is removed,
   * the count its final figures had (a run exec'd in a container that ended
   * under it still sees the kill).
   */
  _oomKills(): number {
    return this.backend && !this.removed ? this.backend.oomKills() : this.oomSeen;
  }

  /** @internal CPU µs so far (one file read). */
  _cpuUsageUsec(): number {
    return this.backend && !this.removed ? this.backend.cpuUsageUsec() : 0;
  }

  private live(what: string): CgroupBackend {
    if (!this.backend || this.removed) {
      throw new IsolateError('ERR_STATE', `CGroup ${what}: the cgroup ${this.removed ? 'was destroyed' : 'is not created yet (create() it, or start its container)'}`);
    }
    return this.backend;
  }

  private noticeOom(kills: number): void {
    if (kills > this.oomSeen) {
      this.oomSeen = kills;
      this.emit('oom', kills);
    }
  }

  /** Arms the OOM notification: memory.events (v2) or an eventfd on memory.oom_control (v1). */
  private watchOom(): void {
    if (this.oomWatch || !this.backend || this.removed) return;
    const src = this.backend.oomSource();
    if (!src) return;
    const n = native();
    const check = () => {
      if (this.backend && !this.removed) this.noticeOom(this.backend.oomKills());
    };
    if (src.kind === 'events') {
      // Opened by the addon, which closes it: not by fs.openSync, whose fds
      // a worker thread tracks and closes again when it ends, whatever that
      // number is by then (the owner mark's lock, say).
      const fd = n.openFiles([src.path], 'r')[0]!;
      if (fd < 0) return; // no notifications: oom is still seen at exit and in stats()
      this.oomWatch = n.watchFd(fd, 1, check);
      return;
    }
    // v1 signals the eventfd when the group enters OOM, before the OOM
    // killer has picked and counted its victim, so the count read at once
    // may not have moved yet: look again a few times, briefly, until it has.
    let timer: NodeJS.Timeout | undefined;
    const recheck = (delays: readonly number[]) => {
      clearTimeout(timer);
      timer = undefined;
      const before = this.oomSeen;
      check();
      if (this.oomSeen !== before || delays.length === 0 || !this.backend || this.removed) return;
      timer = setTimeout(() => recheck(delays.slice(1)), delays[0]).unref();
    };
    const efd = n.eventfd();
    const ctl = openSync(src.oomControl, fsc.O_RDONLY);
    try {
      writeFileSync(src.eventControl, `${efd} ${ctl}`);
    } catch {
      n.closeFds([efd]); // the addon's (closeSync would warn in a worker)
      return; // no notifications: oom is still seen at exit and in stats()
    } finally {
      closeSync(ctl);
    }
    const watch = n.watchFd(efd, 0, () => recheck(V1_OOM_RECHECK_MS));
    this.oomWatch = {
      close: () => {
        clearTimeout(timer);
        watch.close();
      },
    };
  }

  private stopWatch(): void {
    this.oomWatch?.close();
    this.oomWatch = undefined;
  }

  /** @internal The figures at the end (the group is empty): totals and peaks, fewer files, parsed as needed. Emits a missed 'oom'. */
  _finalFigures(): FinalFigures {
    const f = this.live('stats()').finalFigures();
    this.noticeOom(f.oomKills);
    return f;
  }

}
