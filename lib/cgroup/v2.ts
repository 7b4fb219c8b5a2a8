/** The cgroup v2 (unified) backend: one directory, files named as our limits are. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CGroupStats, CgroupBackend, FinalFigures, OomSource, Placement } from './backend';
import { CgroupReader, hasControlFile, keyValues, makeDirs, numberOf, pidsBelow, removeDirs, writeControl } from './files';
import type { Max, NormalizedLimits } from './limits';

const max = (v: Max): string => (v === null ? 'max' : String(v));

/** How deep, and how many, groups a payload may make below its own (docs/cgroups.md). */
export const SUBTREE_DEPTH = 16;
export const SUBTREE_DESCENDANTS = 256;

/** Whether groups under `parentDir` (a non-root v2 group with memory enabled) have memory.swap.max: the kernel counts swap. */
export function v2SwapAccounting(parentDir: string): boolean {
  return hasControlFile(`${parentDir}/memory.swap.max`);
}

export class V2Backend implements CgroupBackend {
  readonly version = 2;
  readonly dirs: string[];
  private readonly dir: string;
  readonly files = new CgroupReader();

  constructor(
    private readonly parentDir: string,
    name: string,
  ) {
    this.dir = join(parentDir, name);
    this.dirs = [this.dir];
  }

  private f(name: string): string {
    return join(this.dir, name);
  }

  create(premade: readonly string[] = []): void {
    if (!premade.includes(this.dir)) makeDirs([this.dir]);
    // A payload with its own cgroup mount (uid 0, seccomp 'unconfined') can
    // make groups below its own; nsdelegate keeps it from changing these
    // two at its namespace's root (as long as it does not nest a second
    // namespace: docs/security.md, sixth review). Unbounded, 2045 levels of nested groups
    // (or a few with long names: the host's path past PATH_MAX) made the
    // group impossible to remove. Best effort: a kernel before 4.14 lacks them.
    for (const [file, value] of [['cgroup.max.depth', SUBTREE_DEPTH], ['cgroup.max.descendants', SUBTREE_DESCENDANTS]] as const) {
      try {
        writeControl(this.f(file), String(value), file);
      } catch {
        /* not on this kernel */
      }
    }
  }

  /** The writes apply(l) makes, for a pooled group to have them made ahead: memory, cpu and pids limits (see V1Backend.poolWrites). */
  poolWrites(l: NormalizedLimits): [string, string][] | undefined {
    if (l.cpuset || l.io || l.devices) return undefined;
    return this.files.record(() => this.apply(l));
  }

  /** The files apply(l) writes that a pooled group opens ahead for a taker with such limits (see V1Backend.limitFiles). */
  limitFiles(l: NormalizedLimits): string[] {
    const out: string[] = [];
    const m = l.memory;
    if (m?.low !== undefined) out.push(this.f('memory.low'));
    if (m?.high !== undefined) out.push(this.f('memory.high'));
    if (m?.max !== undefined) out.push(this.f('memory.max'));
    if (m?.swapMax !== undefined) out.push(this.f('memory.swap.max'));
    for (const [file] of this.hugetlbWrites(m?.hugetlbMax)) out.push(file);
    if (l.cpu?.max) out.push(this.f('cpu.max'));
    if (l.cpu?.weight !== undefined) out.push(this.f('cpu.weight'));
    if (l.pids !== undefined) out.push(this.f('pids.max'));
    return out;
  }

  /**
   * A page size's limit goes to hugetlb.<size>.max, which bounds pages at
   * fault time (past it the payload gets SIGBUS), and to .rsvd.max (5.7+),
   * which bounds reservations, so that mmap() fails with ENOMEM instead.
   */
  private hugetlbWrites(limits: Record<string, Max> | undefined): [string, string, string][] {
    const out: [string, string, string][] = [];
    for (const [size, v] of Object.entries(limits ?? {})) {
      // 'max' asks nothing of a parent without the controller (checkSupported lets it through).
      if (v === null && !hasControlFile(join(this.parentDir, `hugetlb.${size}.max`))) continue;
      out.push([this.f(`hugetlb.${size}.max`), max(v), `memory.hugetlbMax (${size})`]);
      if (hasControlFile(join(this.parentDir, `hugetlb.${size}.rsvd.max`))) out.push([this.f(`hugetlb.${size}.rsvd.max`), max(v), `memory.hugetlbMax (${size} reservations)`]);
    }
    return out;
  }

  apply(l: NormalizedLimits): void {
    const m = l.memory;
    if (m) {
      // low before max: the kernel takes them in any order, but a user
      // reading a half-applied group should see protections first.
      if (m.low !== undefined) this.files.write(this.f('memory.low'), String(m.low), 'memory.low');
      if (m.high !== undefined) this.files.write(this.f('memory.high'), max(m.high), 'memory.high');
      if (m.max !== undefined) this.files.write(this.f('memory.max'), max(m.max), 'memory.max');
      if (m.swapMax !== undefined) this.files.write(this.f('memory.swap.max'), max(m.swapMax), 'memory.swapMax');
      for (const [file, value, what] of this.hugetlbWrites(m.hugetlbMax)) this.files.write(file, value, what);
    }
    if (l.cpu) {
      if (l.cpu.max) this.files.write(this.f('cpu.max'), `${max(l.cpu.max.quotaUs)} ${l.cpu.max.periodUs}`, 'cpu.max');
      if (l.cpu.weight !== undefined) this.files.write(this.f('cpu.weight'), String(l.cpu.weight), 'cpu.weight');
    }
    if (l.cpuset) {
      if (l.cpuset.cpus !== undefined) this.files.write(this.f('cpuset.cpus'), l.cpuset.cpus, 'cpuset.cpus');
      if (l.cpuset.mems !== undefined) this.files.write(this.f('cpuset.mems'), l.cpuset.mems, 'cpuset.mems');
    }
    if (l.pids !== undefined) this.files.write(this.f('pids.max'), max(l.pids), 'pids');
    if (l.io) {
      if (l.io.weight !== undefined) this.files.write(this.f('io.weight'), `default ${l.io.weight}`, 'io.weight');
      for (const t of l.io.max ?? []) {
        const parts = (['rbps', 'wbps', 'riops', 'wiops'] as const).filter((k) => t[k] !== undefined).map((k) => `${k}=${max(t[k]!)}`);
        if (parts.length > 0) this.files.write(this.f('io.max'), `${t.major}:${t.minor} ${parts.join(' ')}`, `io.max (${t.device})`);
      }
    }
    // devices: a BPF program (see cgroup.ts); netClassId: refused earlier (v1 only).
  }

  placement(): Placement {
    return { joinFiles: [this.f('cgroup.procs')], procsFiles: [this.f('cgroup.procs')], intoDir: this.dir };
  }

  stats(): CGroupStats {
    return this.files.batch(this.statFiles(false), () => this.readStats(false));
  }

  /** Whether the group has the pids controller, as the end saw it (its figures are parsed later, once the directory is gone). */
  private hasPids = false;

  finalFigures(): FinalFigures {
    const texts = this.files.snapshot(this.statFiles(true));
    // pids.peak read: it has; else (kernels before 6.1 lack pids.peak) ask now, while the directory is there.
    this.hasPids = texts.get(this.f('pids.peak')) !== undefined || existsSync(this.f('pids.max'));
    let all: CGroupStats | undefined;
    return this.files.using(texts, () => ({
      cpuUsageUsec: this.cpuUsageUsec(),
      memoryPeak: numberOf(this.files.read(this.f('memory.peak'))) ?? null,
      oomKills: this.oomKills(),
      stats: () => (all ??= this.files.using(texts, () => this.readStats(true))),
    }));
  }

  statFiles(final: boolean): string[] {
    const names = ['cpu.stat', 'memory.peak', 'memory.events', 'pids.peak', 'io.stat'];
    if (!final) names.push('memory.current', 'pids.current');
    return names.map((f) => this.f(f));
  }

  private readStats(final: boolean): CGroupStats {
    const cpu = keyValues(this.files.read(this.f('cpu.stat')));
    const peak = numberOf(this.files.read(this.f('memory.peak')));
    const pidsPeak = numberOf(this.files.read(this.f('pids.peak')));
    const pidsCurrent = final ? (this.hasPids ? 0 : undefined) : numberOf(this.files.read(this.f('pids.current')));
    return {
      cpu: {
        usageUsec: cpu.get('usage_usec') ?? 0,
        userUsec: cpu.get('user_usec') ?? 0,
        systemUsec: cpu.get('system_usec') ?? 0,
        throttledUsec: cpu.get('throttled_usec') ?? null,
      },
      memory: {
        current: final ? 0 : (numberOf(this.files.read(this.f('memory.current'))) ?? 0),
        peak: peak ?? null,
        oomKills: this.oomKills(),
      },
      pids: pidsCurrent === undefined ? null : { current: pidsCurrent ?? 0, peak: pidsPeak ?? null },
      io: this.io(),
    };
  }

  private io(): CGroupStats['io'] {
    const text = this.files.read(this.f('io.stat'));
    if (text === undefined) return null;
    const out = { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 };
    for (const m of text.matchAll(/\b(rbytes|wbytes|rios|wios)=(\d+)/g)) {
      const n = Number(m[2]);
      if (m[1] === 'rbytes') out.readBytes += n;
      else if (m[1] === 'wbytes') out.writeBytes += n;
      else if (m[1] === 'rios') out.readOps += n;
      else out.writeOps += n;
    }
    return out;
  }

  oomKills(): number {
    return keyValues(this.files.read(this.f('memory.events'))).get('oom_kill') ?? 0;
  }

  cpuUsageUsec(): number {
    return keyValues(this.files.read(this.f('cpu.stat'))).get('usage_usec') ?? 0;
  }

  oomSource(): OomSource | null {
    const path = this.f('memory.events');
    return existsSync(path) ? { kind: 'events', path } : null;
  }

  freeze(): boolean {
    writeControl(this.f('cgroup.freeze'), '1', 'freeze');
    return this.frozen();
  }

  frozen(): boolean {
    return keyValues(this.files.read(this.f('cgroup.events'))).get('frozen') === 1;
  }

  thaw(): void {
    writeControl(this.f('cgroup.freeze'), '0', 'thaw');
  }

  kill(signal: number): void {
    // cgroup.kill (5.14+) kills every process, forks in flight included.
    if (signal === 9 && existsSync(this.f('cgroup.kill'))) {
      writeControl(this.f('cgroup.kill'), '1', 'kill');
      return;
    }
    for (const pid of this.procs()) {
      try {
        process.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  }

  procs(): number[] {
    // With the groups a payload made below: their processes are the group's too.
    return pidsBelow(this.dir);
  }

  remove(): boolean {
    this.files.closeNow(); // before the directory goes (CgroupReader.closeNow says why)
    return removeDirs([this.dir]);
  }
}
