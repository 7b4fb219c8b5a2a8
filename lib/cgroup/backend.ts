/** The interface both cgroup backends (v2: one unified directory; v1: one directory per hierarchy) implement. */
import type { CgroupReader } from './files';
import type { NormalizedLimits } from './limits';

/** What a cgroup has used; see docs/cgroups.md for where each figure comes from. */
export interface CGroupStats {
  cpu: {
    /** User + system CPU time of every process that ran in the group. */
    usageUsec: number;
    userUsec: number;
    systemUsec: number;
    /** Time held back by the cpu quota (null without a cpu limit on v1). */
    throttledUsec: number | null;
  };
  memory: {
    /** Bytes in use now (anonymous memory, page cache, kernel memory). */
    current: number;
    /** The most ever in use (null where the kernel has no memory.peak). */
    peak: number | null;
    /** Processes the OOM killer ended in the group. */
    oomKills: number;
  };
  pids: {
    current: number;
    /** The most at once (null where the kernel does not track it). */
    peak: number | null;
  } | null;
  /** Bytes and operations through the block layer (null when there is no io/blkio hierarchy in use). */
  io: { readBytes: number; writeBytes: number; readOps: number; writeOps: number } | null;
}

/** How a new process enters the group (see csrc/ik_proto.h). */
export interface Placement {
  /**
   * Files the new (single-threaded) process writes "0" to before anything
   * else: v1 each hierarchy's `tasks` (moving the calling thread takes no
   * global lock; moving a process by pid through cgroup.procs waits for an
   * RCU grace period, ms here); v2 without clone3 cgroup.procs.
   */
  joinFiles: string[];
  /** cgroup.procs of every directory: for moving another process by pid. */
  procsFiles: string[];
  /** v2: the directory for clone3(CLONE_INTO_CGROUP). */
  intoDir?: string;
}

/** How to learn of OOM kills as they happen. */
export type OomSource = { kind: 'events'; path: string } | { kind: 'eventfd'; oomControl: string; eventControl: string };

export interface CgroupBackend {
  readonly version: 1 | 2;
  /** Every directory of the group (one on v2). */
  readonly dirs: string[];
  /** Makes the directories (but `premade`, which exist already); removes them all if one fails. */
  create(premade?: readonly string[]): void;
  /** Writes limits (only the fields present). */
  apply(limits: NormalizedLimits): void;
  placement(): Placement;
  /** Figures so far. */
  stats(): CGroupStats;
  /**
   * The files stats() reads, or with `final` the ones the end reads (the
   * group is empty and about to go: totals and peaks, current figures as 0;
   * fewer files to open in a fresh group).
   */
  statFiles(final: boolean): string[];
  /**
   * The figures at the end (the group is empty): statFiles(true) read at
   * once, the three a RunResult needs taken from them, the rest on demand.
   */
  finalFigures(): FinalFigures;
  /** The files apply(l) writes that a pooled group can open ahead (apply writes through them). */
  limitFiles(l: NormalizedLimits): string[];
  /** The writes apply(l) would make, as [file, value], when a pooled group can have them made ahead (only in its own directories, nothing read first); undefined otherwise. */
  poolWrites(l: NormalizedLimits): [string, string][] | undefined;
  readonly files: CgroupReader;
  /** OOM kills so far (cheaper than stats()). */
  oomKills(): number;
  /** CPU time so far in µs (cheaper than stats()). */
  cpuUsageUsec(): number;
  oomSource(): OomSource | null;
  /** Asks the kernel to freeze; true once every process is frozen. */
  freeze(): boolean;
  /** Whether freezing has completed. */
  frozen(): boolean;
  thaw(): void;
  /** Signals every process in the group. */
  kill(signal: number): void;
  /** pids in the group. */
  procs(): number[];
  /** rmdir every directory; false while processes remain. */
  remove(): boolean;
}

/** What a group's end leaves: CPU, peak memory and OOM kills, and every figure when asked. */
export interface FinalFigures {
  cpuUsageUsec: number;
  memoryPeak: number | null;
  oomKills: number;
  stats(): CGroupStats;
}
