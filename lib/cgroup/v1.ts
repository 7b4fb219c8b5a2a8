/**
 * The cgroup v1 (and hybrid) backend: one directory in each hierarchy the
 * group uses, limits translated to the v1 files as runc and crun document
 * them. Every group joins memory, cpuacct and pids (what stats() reads); cpu
 * (else the parent's cpu directory: sharedCpuJoin),
 * cpuset, blkio, devices, net_cls and hugetlb only when a limit needs them (at
 * creation, or later by update(): joinLater), and freezer on the first
 * pause(): each hierarchy costs a mkdir and an rmdir (~40 µs
 * together, ~70 µs for memory) on every container start, except cpuacct,
 * whose directory is reused when it can be (see pool.ts): taken from the
 * last group that ended, with its counters then as this group's zero, and
 * handed on the same way when this one ends.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IsolateError } from '../errors';
import type { CGroupStats, CgroupBackend, FinalFigures, OomSource, Placement } from './backend';
import { CgroupReader, hasControlFile, keyValues, makeDirs, numberOf, pidsBelow, pidsIn, readControl, removeDirs, valueOf, writeControl } from './files';
import { unusableV1, type CgroupParent } from './host';
import { holdFreezer, releaseFreezer } from './freezer-hold';
import { keepAccounting, type AccountingGroup, type CpuCounters } from './pool';
import { native } from '../native';
import { remember } from './registry';
import { deviceRulesWithInitNodes, ioWeightToBlkio, weightToShares, type DeviceRule, type Max, type NormalizedLimits } from './limits';

/** Controllers every v1 group joins, for measurement. */
const BASE = ['memory', 'cpuacct', 'pids'];

/**
 * A reusable accounting group's files, kept open with it: tasks (joined
 * through), cpuacct.usage and cpuacct.usage_all.
 */
const ACCOUNTING_FILES = ['tasks', 'cpuacct.usage', 'cpuacct.usage_all'];
const ACCOUNTING_MODES = 'wrr';

/**
 * cpuacct.usage_all ("cpu user system", then a line per CPU, in ns) summed
 * over the CPUs: what usage_user and usage_sys read; zeros when absent.
 */
export function usageAll(text: string | undefined): { user: number; system: number } {
  let user = 0;
  let system = 0;
  if (!text) return { user, system };
  // Scanned in place: it is read at the end of every container.
  let at = text.indexOf('\n') + 1; // past the header
  while (at > 0 && at < text.length) {
    const end = text.indexOf('\n', at);
    const line = end < 0 ? text.length : end;
    const a = text.indexOf(' ', at);
    const b = a < 0 ? -1 : text.indexOf(' ', a + 1);
    if (b > 0 && b < line) {
      user += Number(text.slice(a + 1, b)) || 0;
      system += Number(text.slice(b + 1, line)) || 0;
    }
    at = end + 1;
  }
  return { user, system };
}

/**
 * The user part of `usage` (ns), split as cpuacct.usage_all's tick-sampled
 * user and system times split, as the kernel's cputime_adjust() does for
 * v2's cpu.stat: user + system is then the exact usage, and neither passes
 * it (usage_all's sampled figures alone can: a spinner read 0.32 s of user
 * time in 0.27 s of usage). With no tick sampled, all of it is user time,
 * as cputime_adjust() has it.
 */
export function splitUsage(cpu: { usage: number; user: number; system: number }): { user: number } {
  if (cpu.system <= 0) return { user: cpu.usage };
  if (cpu.user <= 0) return { user: 0 };
  return { user: Math.round((cpu.usage * cpu.user) / (cpu.user + cpu.system)) };
}

/** A v1 cpuset group refuses tasks until cpus and mems are set: the parent's, copied into `dir`. */
function copyParentCpuset(dir: string): void {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    writeControl(join(dir, file), readControl(join(dir, '..', file))?.trim() || '0', file);
  }
}

/** v1 "unlimited" for memory files (-1 is accepted and reads back as the page-rounded max). */
const v1max = (v: Max): string => (v === null ? '-1' : String(v));

/**
 * v1 keeps socket buffers (TCP and UDP) out of a group's memory counter: it
 * counts them in a counter of their own, and only once this file has been
 * written; before that they are charged nowhere (a container under a 64M
 * limit held 2.2 GB in loopback queues, until the host ran into tcp_mem
 * and reset other connections). A memory limit is written here too, with
 * the same value (docs/cgroups.md, "Socket buffers"). Kernels built
 * without it lack the file.
 */
const TCP_LIMIT = 'memory.kmem.tcp.limit_in_bytes';

/** v1's memory+swap limit: there only where the kernel counts swap (swapaccount=1). */
const SWAP_LIMIT = 'memory.memsw.limit_in_bytes';

/** Whether groups under the memory parent directory `parentDir` have SWAP_LIMIT. */
export function v1SwapAccounting(parentDir: string): boolean {
  return hasControlFile(`${parentDir}/${SWAP_LIMIT}`);
}

export class V1Backend implements CgroupBackend {
  readonly version = 1;
  readonly dirs: string[] = [];
  /** v1 controller name → this group's directory in its hierarchy. */
  private readonly dir = new Map<string, string>();
  readonly files = new CgroupReader();

  /** The reused cpuacct group, while this group has it. */
  private accounting: AccountingGroup | undefined;
  /** releaseAccounting() found a task in it, or kill() one of its own there (noteStrays): it goes with this group. */
  private accountingHeldOthers = false;
  /** It joined the freezer and holds the kernel's freezer key on (freezer-hold.ts) until removed. */
  private holdsFreezer = false;
  /** Its counters when this group took it (ns): figures are counted from there. */
  private readonly cpuBase: CpuCounters = { usage: 0, user: 0, system: 0 };

  /**
   * `controllers`: v1 names of the hierarchies beyond BASE that the limits
   * need. `accounting`: a reusable cpuacct group to use (its files are then
   * read through the fds it brings), or 'none' to leave cpuacct out (the
   * pool's shape of a group); by default cpuacct is a directory of its own.
   */
  constructor(
    private readonly parent: CgroupParent,
    private readonly name: string,
    controllers: string[],
    accounting?: AccountingGroup | 'none',
  ) {
    const byDir = new Map<string, string>();
    for (const c of [...BASE, ...controllers]) {
      const parentDir = parent.v1Dirs.get(c);
      if (!parentDir) continue; // base controllers the host lacks: their figures read as absent
      let dir = `${parentDir}/${name}`;
      if (c === 'cpuacct' && accounting !== undefined) {
        if (accounting === 'none') continue;
        dir = accounting.dir;
        this.accounting = accounting;
        Object.assign(this.cpuBase, accounting.base);
        this.files.adopt(accounting.fds);
      }
      this.dir.set(c, dir);
      byDir.set(dir, c);
    }
    // Co-mounted controllers (cpu,cpuacct) share one directory.
    this.dirs = [...byDir.keys()];
  }

  /**
   * A new accounting group under `parentDir` (the cpuacct hierarchy's),
   * its files opened; undefined when they cannot be opened. Throws as
   * makeDirs does.
   */
  static makeAccounting(parentDir: string, name: string): AccountingGroup | undefined {
    const dir = `${parentDir}/${name}`;
    makeDirs([dir]);
    const paths = ACCOUNTING_FILES.map((f) => `${dir}/${f}`);
    const fds = native().openFiles(paths, ACCOUNTING_MODES);
    if (fds.some((fd) => fd < 0)) {
      native().closeFds(fds);
      removeDirs([dir]);
      return undefined;
    }
    return { dir, fds: new Map(paths.map((p, i) => [p, fds[i]!])), base: { usage: 0, user: 0, system: 0 } };
  }

  /** v1 controllers the group is in. */
  joined(): string[] {
    return [...this.dir.keys()];
  }

  /** The group's directory in `controller`'s hierarchy. */
  dirOf(controller: string): string | undefined {
    return this.dir.get(controller);
  }

  private f(controller: string, file: string): string | undefined {
    const d = this.dir.get(controller);
    // (Not path.join: both parts are clean, and this runs for every file read.)
    return d && `${d}/${file}`;
  }

  /** This group's TCP_LIMIT file, where the kernel has it. */
  private tcpLimit(): string | undefined {
    const parentDir = this.parent.v1Dirs.get('memory');
    if (!parentDir) return undefined;
    return hasControlFile(`${parentDir}/${TCP_LIMIT}`) ? this.f('memory', TCP_LIMIT) : undefined;
  }

  /** memory.max: the memory limit, and the same for TCP socket buffers (TCP_LIMIT says why). */
  private writeMemoryMax(limit: string, v: Max): void {
    this.files.write(limit, v1max(v), 'memory.max');
    const tcp = this.tcpLimit();
    if (tcp) this.files.write(tcp, v1max(v), 'memory.max');
  }

  private must(controller: string, file: string, option: string): string {
    const p = this.f(controller, file);
    if (!p) throw new IsolateError('ERR_UNSUPPORTED', `\`${option}\` needs the ${controller} cgroup controller, which this group does not have`, { option });
    return p;
  }

  create(premade: readonly string[] = []): void {
    try {
      makeDirs(this.dirs.filter((d) => !premade.includes(d) && d !== this.accounting?.dir));
    } catch (err) {
      this.files.closeNow(this.accounting ? [...this.accounting.fds.keys()] : []);
      removeDirs([...premade]);
      if (this.accounting && !this.releaseAccounting()) {
        this.files.closeNow();
        removeDirs([this.accounting.dir]);
      }
      throw err;
    }
    const cs = this.dir.get('cpuset');
    if (cs) copyParentCpuset(cs);
  }

  /**
   * The writes apply(l) makes, when they all go to the base hierarchies'
   * files, or hugetlb's (a pooled group has it when the limits need it:
   * cgroup.ts pooledExtra), and need nothing read first (memory.max, with
   * swapMax or not, its huge page limits, memory.low, pids): a pooled group
   * can have them made ahead. Undefined otherwise.
   */
  poolWrites(l: NormalizedLimits): [string, string][] | undefined {
    const m = l.memory;
    if (l.cpu || l.cpuset || l.io || l.devices || l.netClassId !== undefined) return undefined;
    if (m && ((m.high !== undefined && m.high !== null) || (m.swapMax !== undefined && m.max === undefined))) return undefined;
    return this.files.record(() => this.apply(l));
  }

  /**
   * The files apply(l) writes in the base hierarchies (memory, pids): what a
   * pooled group opens ahead for a taker with such limits. (Only a speed-up:
   * a file not opened ahead is written by path.)
   */
  limitFiles(l: NormalizedLimits): string[] {
    const files = [
      l.memory?.low !== undefined && this.f('memory', 'memory.soft_limit_in_bytes'),
      l.memory?.max !== undefined && this.f('memory', 'memory.limit_in_bytes'),
      l.memory?.max !== undefined && this.tcpLimit(),
      l.memory?.swapMax !== undefined && this.swapAccounting() && this.f('memory', SWAP_LIMIT),
      l.pids !== undefined && this.f('pids', 'pids.max'),
    ];
    return files.filter((f): f is string => typeof f === 'string');
  }

  apply(l: NormalizedLimits): void {
    const m = l.memory;
    if (m) {
      if (m.high !== undefined && m.high !== null) {
        throw new IsolateError('ERR_UNSUPPORTED', '`memory.high` has no cgroup v1 equivalent (v1 has no throttling point); use memory.max', {
          option: 'memory.high',
        });
      }
      if (m.low !== undefined) this.files.write(this.must('memory', 'memory.soft_limit_in_bytes', 'memory.low'), String(m.low), 'memory.low');
      if (m.max !== undefined || m.swapMax !== undefined) this.memoryAndSwap(m.max, m.swapMax);
      if (m.hugetlbMax) this.hugetlb(m.hugetlbMax);
    }
    if (l.cpu) {
      if (l.cpu.max) {
        this.files.write(this.must('cpu', 'cpu.cfs_period_us', 'cpu.max'), String(l.cpu.max.periodUs), 'cpu.max');
        this.files.write(this.must('cpu', 'cpu.cfs_quota_us', 'cpu.max'), l.cpu.max.quotaUs === null ? '-1' : String(l.cpu.max.quotaUs), 'cpu.max');
      }
      if (l.cpu.weight !== undefined) this.files.write(this.must('cpu', 'cpu.shares', 'cpu.weight'), String(weightToShares(l.cpu.weight)), 'cpu.weight');
    }
    if (l.cpuset) {
      if (l.cpuset.cpus !== undefined) this.files.write(this.must('cpuset', 'cpuset.cpus', 'cpuset'), l.cpuset.cpus, 'cpuset.cpus');
      if (l.cpuset.mems !== undefined) this.files.write(this.must('cpuset', 'cpuset.mems', 'cpuset'), l.cpuset.mems, 'cpuset.mems');
    }
    if (l.pids !== undefined) this.files.write(this.must('pids', 'pids.max', 'pids'), l.pids === null ? 'max' : String(l.pids), 'pids');
    if (l.io) {
      if (l.io.weight !== undefined) {
        const file = this.f('blkio', 'blkio.weight');
        const bfq = this.f('blkio', 'blkio.bfq.weight');
        const target = file && readControl(file) !== undefined ? file : bfq && readControl(bfq) !== undefined ? bfq : undefined;
        if (!target) {
          throw new IsolateError('ERR_UNSUPPORTED', '`io.weight` needs blkio.weight (the CFQ or BFQ I/O scheduler), which this host does not have', {
            option: 'io.weight',
          });
        }
        this.files.write(target, String(ioWeightToBlkio(l.io.weight)), 'io.weight');
      }
      const files = { rbps: 'read_bps_device', wbps: 'write_bps_device', riops: 'read_iops_device', wiops: 'write_iops_device' } as const;
      for (const t of l.io.max ?? []) {
        for (const k of ['rbps', 'wbps', 'riops', 'wiops'] as const) {
          const v = t[k];
          if (v === undefined) continue;
          // v1: 0 removes a throttle.
          this.files.write(this.must('blkio', `blkio.throttle.${files[k]}`, 'io.max'), `${t.major}:${t.minor} ${v === null ? 0 : v}`, `io.max (${t.device}).${k}`);
        }
      }
    }
    if (l.devices) this.devices(l.devices);
    if (l.netClassId !== undefined) this.files.write(this.must('net_cls', 'net_cls.classid', 'netClassId'), String(l.netClassId), 'netClassId');
  }

  /**
   * v1 limits memory+swap together (memsw = max + swapMax), and memsw may
   * never be below the memory limit. The CGroup passes swapMax along with
   * every max once swap is limited (cgroup.ts), so both values are known
   * without reading the files: the limit is written first (right for a
   * fresh group, whose memsw is unlimited, and whenever the total goes
   * down); should the kernel refuse that (the new limit above the old
   * total: raising), the total goes first. Without swapMax, memsw is left
   * as it is: unlimited.
   */
  private memoryAndSwap(maxV: Max | undefined, swapV: Max | undefined): void {
    const limit = this.must('memory', 'memory.limit_in_bytes', 'memory.max');
    if (swapV === undefined) {
      if (maxV !== undefined) this.writeMemoryMax(limit, maxV);
      return;
    }
    const memsw = this.swapAccounting() ? this.f('memory', SWAP_LIMIT) : undefined;
    if (!memsw) {
      if (swapV !== null) {
        throw new IsolateError('ERR_UNSUPPORTED', '`memory.swapMax` needs swap accounting (memory.memsw.*), which this kernel has off (boot with swapaccount=1)', {
          option: 'memory.swapMax',
        });
      }
      if (maxV !== undefined) this.writeMemoryMax(limit, maxV);
      return;
    }
    const newMax = maxV === undefined ? (numberOf(readControl(limit)) ?? null) : maxV;
    const total: Max = swapV === null || newMax === null ? null : newMax + swapV;
    try {
      if (maxV !== undefined) this.writeMemoryMax(limit, maxV);
      this.files.write(memsw, v1max(total), 'memory.swapMax');
    } catch (err) {
      if (!(err instanceof IsolateError) || err.errnoCode !== 'EINVAL') throw err;
      this.files.write(memsw, v1max(total), 'memory.swapMax');
      if (maxV !== undefined) this.writeMemoryMax(limit, maxV);
    }
  }

  /**
   * Huge page limits, in the hugetlb hierarchy (the group joins it when a
   * limit needs it: controllersFor): hugetlb.<size>.limit_in_bytes bounds
   * pages at fault time (SIGBUS past it), .rsvd.limit_in_bytes (5.7+)
   * reservations, so that mmap() fails with ENOMEM instead; as on v2.
   * 'max' asks nothing of a group without the hierarchy.
   */
  private hugetlb(limits: Record<string, Max>): void {
    const parentDir = this.parent.v1Dirs.get('hugetlb');
    for (const [size, v] of Object.entries(limits)) {
      if (v === null && !this.dir.has('hugetlb')) continue;
      const what = `memory.hugetlbMax (${size})`;
      this.files.write(this.must('hugetlb', `hugetlb.${size}.limit_in_bytes`, 'memory.hugetlbMax'), v1max(v), what);
      if (hasControlFile(`${parentDir}/hugetlb.${size}.rsvd.limit_in_bytes`)) this.files.write(this.f('hugetlb', `hugetlb.${size}.rsvd.limit_in_bytes`)!, v1max(v), `${what} reservations`);
    }
  }

  /** Whether the kernel counts swap here (memory.memsw.*: swapaccount=1): looked at once per parent. */
  private swapAccounting(): boolean {
    const parentDir = this.parent.v1Dirs.get('memory');
    return parentDir !== undefined && v1SwapAccounting(parentDir);
  }

  private devices(rules: DeviceRule[]): void {
    const deny = this.must('devices', 'devices.deny', 'devices');
    const allow = this.must('devices', 'devices.allow', 'devices');
    writeControl(deny, 'a', 'devices');
    const n = (v: number) => (v < 0 ? '*' : String(v));
    for (const r of deviceRulesWithInitNodes(rules)) {
      // v1 reads any 'a' rule as "allow every device, every access", its
      // numbers and letters ignored ('a 1:3 r' would allow writing /dev/sda):
      // an 'a' rule is written as the block and the char rule it means, as
      // v2's device program reads it.
      for (const type of r.type === 'a' ? ['b', 'c'] : [r.type]) writeControl(allow, `${type} ${n(r.major)}:${n(r.minor)} ${r.access}`, 'devices');
    }
  }

  placement(): Placement {
    return { joinFiles: [...this.dirs.map((d) => `${d}/tasks`), ...this.sharedCpuJoin()], procsFiles: this.dirs.map((d) => `${d}/cgroup.procs`) };
  }

  /**
   * A group without a cpu limit has no directory in the cpu hierarchy, and
   * its processes would stay in the Node process's cpu group (the root,
   * often), each one the scheduler's peer of Node: 100 spinners left Node
   * 1/101 of the CPUs, so its timers (a `cpuTime` budget's among them) ran
   * late, a 200 ms budget overrunning by 33 ms at the median and 200 at
   * most. They join the parent's directory there instead (no mkdir: v1
   * lets a parent hold tasks), so that every sandbox of the parent shares
   * one entity's CPU share against the host's, as a group with a cpu limit,
   * made below that parent, does, and as v2 groups do. Not where cpu and
   * cpuacct are one hierarchy: the group's cpuacct directory is in it.
   */
  private sharedCpuJoin(): string[] {
    if (this.dir.has('cpu')) return [];
    const cpu = this.parent.v1Dirs.get('cpu');
    return cpu === undefined || cpu === this.parent.v1Dirs.get('cpuacct') ? [] : [`${cpu}/tasks`];
  }

  stats(): CGroupStats {
    return this.files.batch(this.statFiles(false), () => this.readStats(false));
  }

  /** statFiles(false) and (true), made once: the hierarchies it reads are fixed at creation. */
  private readonly statFileLists: [string[]?, string[]?] = [];

  statFiles(final: boolean): string[] {
    const i = final ? 1 : 0;
    return (this.statFileLists[i] ??= this.listStatFiles(final));
  }

  private listStatFiles(final: boolean): string[] {
    const files: string[] = [];
    const want = (c: string, ...names: string[]) => {
      for (const n of names) {
        const p = this.f(c, n);
        if (p) files.push(p);
      }
    };
    // usage is exact (charged at every context switch); the user/system
    // split comes from tick-sampled figures, so it can read 0 for a short
    // run. usage_all has the split of every CPU in one file (usage_user and
    // usage_sys would be two opens and reads).
    want('cpuacct', 'cpuacct.usage', 'cpuacct.usage_all');
    want('cpu', 'cpu.stat');
    want('memory', 'memory.max_usage_in_bytes', 'memory.oom_control');
    want('pids', 'pids.peak');
    if (!final) {
      want('memory', 'memory.usage_in_bytes');
      want('pids', 'pids.current');
    }
    want('blkio', 'blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_serviced_recursive');
    return files;
  }

  private readStats(final: boolean): CGroupStats {
    const cpu = this.cpuCounters();
    const split = splitUsage(cpu);
    const cpuStat = this.dir.has('cpu') ? keyValues(this.read('cpu', 'cpu.stat')) : undefined;
    const throttled = cpuStat?.get('throttled_time');
    const hasPids = this.dir.has('pids');
    const pidsCurrent = final ? 0 : numberOf(this.read('pids', 'pids.current'));
    const pidsPeak = numberOf(this.read('pids', 'pids.peak'));
    return {
      cpu: {
        usageUsec: Math.round(cpu.usage / 1000),
        userUsec: Math.round(split.user / 1000),
        systemUsec: Math.round(cpu.usage / 1000) - Math.round(split.user / 1000),
        throttledUsec: throttled === undefined ? null : Math.round(throttled / 1000),
      },
      memory: {
        current: final ? 0 : (numberOf(this.read('memory', 'memory.usage_in_bytes')) ?? 0),
        peak: numberOf(this.read('memory', 'memory.max_usage_in_bytes')) ?? null,
        oomKills: this.oomKills(),
      },
      pids: !hasPids || pidsCurrent === undefined ? null : { current: pidsCurrent ?? 0, peak: pidsPeak ?? null },
      io: this.dir.has('blkio') ? this.io() : null,
    };
  }

  private read(controller: string, file: string): string | undefined {
    const p = this.f(controller, file);
    return p && this.files.read(p);
  }

  private io(): CGroupStats['io'] {
    const out = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
    const sum = (file: string, r: 'readBytes' | 'readOps', w: 'writeBytes' | 'writeOps') => {
      for (const m of (this.read('blkio', file) ?? '').matchAll(/^\d+:\d+ (Read|Write) (\d+)$/gm)) {
        out[m[1] === 'Read' ? r : w] += Number(m[2]);
      }
    };
    sum('blkio.throttle.io_service_bytes_recursive', 'readBytes', 'writeBytes');
    sum('blkio.throttle.io_serviced_recursive', 'readOps', 'writeOps');
    return out;
  }

  oomKills(): number {
    // memory.oom_control has counted kills (oom_kill) since Linux 4.13.
    return valueOf(this.read('memory', 'memory.oom_control'), 'oom_kill') ?? 0;
  }

  cpuUsageUsec(): number {
    return Math.round(((numberOf(this.read('cpuacct', 'cpuacct.usage')) ?? 0) - this.cpuBase.usage) / 1000);
  }

  /** cpuacct's counters, raw (ns, as the kernel counts since the directory was made). */
  private rawCpu(): CpuCounters {
    return { usage: numberOf(this.read('cpuacct', 'cpuacct.usage')) ?? 0, ...usageAll(this.read('cpuacct', 'cpuacct.usage_all')) };
  }

  /** CPU ns this group has used: the counters less what they read when it took them. */
  private cpuCounters(): CpuCounters {
    const raw = this.rawCpu();
    const b = this.cpuBase;
    return { usage: raw.usage - b.usage, user: raw.user - b.user, system: raw.system - b.system };
  }

  finalFigures(): FinalFigures {
    const texts = this.files.snapshot(this.statFiles(true));
    let all: CGroupStats | undefined;
    return this.files.using(texts, () => ({
      cpuUsageUsec: this.cpuUsageUsec(),
      memoryPeak: numberOf(this.read('memory', 'memory.max_usage_in_bytes')) ?? null,
      oomKills: this.oomKills(),
      stats: () => (all ??= this.files.using(texts, () => this.readStats(true))),
    }));
  }

  oomSource(): OomSource | null {
    const oomControl = this.f('memory', 'memory.oom_control');
    const eventControl = this.f('memory', 'cgroup.event_control');
    return oomControl && eventControl ? { kind: 'eventfd', oomControl, eventControl } : null;
  }

  freeze(): boolean {
    this.joinLater('freezer', 'pause()');
    writeControl(this.must('freezer', 'freezer.state', 'pause'), 'FROZEN', 'pause');
    return this.frozen();
  }

  /**
   * A hierarchy the group was made without, joined on first use (the
   * freezer by pause(); cpu, cpuset, blkio, devices by update() of a limit
   * that needs one): our directory there is made and every process of the
   * group moved in, running as it is. A process forked meanwhile by one not
   * yet moved would stay out, so this repeats until the new directory holds
   * every process of the others; processes that keep forking and exiting
   * faster than they are moved, round after round, make it fail
   * (ERR_STATE) rather than leave one out unsaid. `what` names the caller
   * for messages.
   */
  joinLater(controller: string, what: string): void {
    if (this.dir.has(controller)) return;
    const parentDir = this.parent.v1Dirs.get(controller);
    if (!parentDir) {
      const why = (unusableV1.get(this.parent.name === 'delegated' ? '' : this.parent.name) ?? []).find((p) => p.startsWith(`${controller}:`));
      throw new IsolateError('ERR_UNSUPPORTED', `${what} needs the ${controller} cgroup controller: ${why ?? 'this host does not have it mounted'}`, { option: what });
    }
    // Co-mounted with one the group is in (cpu with cpuacct, say): a process
    // is in one directory of a hierarchy, and ours there is in use already.
    const sharing = [...this.dir.keys()].find((c) => this.parent.v1Dirs.get(c) === parentDir);
    if (sharing !== undefined) {
      throw new IsolateError(
        'ERR_UNSUPPORTED',
        `${what}: on this host the ${controller} controller shares a hierarchy with ${sharing}, whose directory this group already uses, so it cannot join it now; give the limit when the group is made`,
        { option: what },
      );
    }
    const dir = join(parentDir, this.name);
    mkdirSync(dir);
    remember([dir]); // removed on exit like the others (thawed first: registry.ts)
    this.dir.set(controller, dir);
    this.dirs.push(dir);
    if (controller === 'freezer') {
      // Until this group is removed, its freezes and thaws need not switch the kernel's freezer key.
      holdFreezer(parentDir);
      this.holdsFreezer = true;
    }
    this.statFileLists.length = 0; // cpu.stat and blkio's figures are read once joined
    if (controller === 'cpuset') copyParentCpuset(dir);
    const procs = join(dir, 'cgroup.procs');
    for (let round = 0; round < 100; round++) {
      const inNew = new Set(pidsIn(procs));
      const missing = this.procsOf(this.dirs[0]!).filter((p) => !inNew.has(p));
      if (missing.length === 0) return;
      for (const pid of missing) {
        try {
          writeFileSync(procs, String(pid));
        } catch {
          /* exited meanwhile */
        }
      }
    }
    throw new IsolateError('ERR_STATE', `${what}: processes of the group kept forking faster than they could be moved into its new ${controller} directory (${dir}); some may be outside it`, {
      option: what,
    });
  }

  private procsOf(dir: string): number[] {
    return pidsIn(join(dir, 'cgroup.procs'));
  }

  frozen(): boolean {
    return this.read('freezer', 'freezer.state')?.trim() === 'FROZEN';
  }

  thaw(): void {
    writeControl(this.must('freezer', 'freezer.state', 'resume'), 'THAWED', 'resume');
  }

  /**
   * v1 has no cgroup.kill. With the freezer joined: freeze so nothing forks
   * meanwhile, signal every process, thaw so the signals are taken (runc's
   * way). Without it, SIGKILL is repeated until the group is empty (a killed
   * process forks no more; one forked meanwhile is found next round).
   */
  kill(signal: number): void {
    this.noteStrays();
    const signalAll = () => {
      const pids = this.procs();
      for (const pid of pids) {
        try {
          process.kill(pid, signal);
        } catch {
          /* exited meanwhile */
        }
      }
      return pids.length;
    };
    if (this.dir.has('freezer')) {
      try {
        this.freeze();
      } catch {
        /* kill anyway */
      }
      signalAll();
      try {
        this.thaw();
      } catch {
        /* removed meanwhile */
      }
      return;
    }
    if (signal !== 9) {
      signalAll();
      return;
    }
    const seen = new Set<number>();
    for (let round = 0; round < 50; round++) {
      const pids = this.procs().filter((p) => !seen.has(p));
      if (pids.length === 0) return;
      for (const pid of pids) {
        seen.add(pid);
        try {
          process.kill(pid, 9);
        } catch {
          /* exited meanwhile */
        }
      }
    }
  }

  /**
   * A process in the accounting directory and not in the group's others
   * was moved there by hand: the directory goes with this group, not to the
   * next (releaseAccounting), even once the kill has emptied it. (A kill
   * from outside, through the group, comes before the removal's look.)
   *
   * The accounting directory is read before and after the others, and only
   * a process in both reads counts: one that exits between the reads is in
   * neither the others' read nor the second (an exit is for good), one
   * forked meanwhile is not in the first. A single read before the others
   * took init, SIGKILLed just before this (killAll signals it first), for a
   * stray whenever it died between the reads: half of all ends here, each
   * then removing an accounting group the next container could have had.
   */
  private noteStrays(): void {
    const acct = this.accounting?.dir;
    if (acct === undefined || this.accountingHeldOthers) return;
    const before = pidsBelow(acct);
    if (before.length === 0) return;
    const others = this.dirs.filter((d) => d !== acct).map((d) => new Set(pidsBelow(d)));
    const after = new Set(pidsBelow(acct));
    const held = before.filter((p) => after.has(p));
    if (others.some((there) => held.some((p) => !there.has(p)))) this.accountingHeldOthers = true;
  }

  procs(): number[] {
    // Every process in any of the group's directories: one moved into a
    // single hierarchy by hand is the group's too (and must go before rmdir).
    // Groups made below one of them (by hand: a v1 payload cannot mount
    // cgroupfs) hold the group's processes too.
    const all = new Set<number>();
    for (const d of this.dirs) for (const p of pidsBelow(d)) all.add(p);
    return [...all];
  }

  remove(): boolean {
    // Files first (closeNow says why), but the accounting group's: it may
    // go back for the next group, files open.
    const acct = this.accounting?.dir;
    try {
      this.files.closeNow(this.accounting ? [...this.accounting.fds.keys()] : []);
      if (!removeDirs(this.dirs.filter((d) => d !== acct))) return false;
      if (this.holdsFreezer) {
        this.holdsFreezer = false;
        releaseFreezer();
      }
      // Empty everywhere now: the accounting group goes back for the next group, or is removed.
      if (acct === undefined || this.releaseAccounting()) return true;
      this.files.closeNow();
      return removeDirs([acct]);
    } finally {
      this.files.closeAll();
    }
  }

  /**
   * Hands the accounting group back for the next group: only when no task
   * is in it (one moved there by hand would be counted against the next
   * container). Its counters now, with no task left, are the next group's
   * base: no reset write. Its files go with it, and it is
   * no longer this group's. False when it cannot be kept (it stays this
   * group's, to be removed).
   */
  private releaseAccounting(): boolean {
    const g = this.accounting;
    if (!g || this.accountingHeldOthers) return false;
    // Read through a new open (the addon's, from the held parent: no walk
    // through sysfs): v1 keeps a tasks list it built for an open file (for a
    // second after its last use), and a read at offset 0 through the kept fd
    // got the list from the last container's end, empty, with a process
    // moved in since (the group went back with it inside, neither killed nor
    // counted). Once it held another process, it is removed, not handed on.
    if (native().readFiles([`${g.dir}/tasks`])[0] !== '') {
      this.accountingHeldOthers = true;
      return false;
    }
    // Read now, with no task left, not taken from the end's figures: a
    // process that outlived init (no pid namespace) was killed after them,
    // and its exit (~85 ms of CPU for 1 GB of memory to free) went into the
    // next container's cpuTimeMs.
    const texts = this.files.snapshot([`${g.dir}/cpuacct.usage`, `${g.dir}/cpuacct.usage_all`]);
    const base = this.files.using(texts, () => this.rawCpu());
    const fds = this.files.release([...g.fds.keys()]);
    if (!keepAccounting(this.parent.v1Dirs.get('cpuacct')!, { dir: g.dir, fds, base })) {
      this.files.adopt(fds);
      return false;
    }
    this.accounting = undefined;
    // (this.dir keeps it: the final figures, parsed on demand, still read its texts.)
    this.dirs.splice(this.dirs.indexOf(g.dir), 1);
    return true;
  }
}
