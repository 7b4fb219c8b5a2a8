/**
 * What `run` learns from the container's cgroup: CPU time for --cpu-time
 * and OOM kills for the 'oom' status, through the public Container API
 * (Container.run() does the same with its own private meter).
 */
import { availableParallelism } from 'node:os';
import type { CGroupStats } from '../cgroup/backend';
import type { Container } from '../container';
import type { RunMeter } from '../run';

/**
 * A RunMeter on a started container's cgroup, or undefined without one.
 * It never throws: it runs in timers, where a throw would crash the CLI, and
 * a figure it cannot read (the group just went) is the last one it read.
 */
export function cgroupMeter(container: Container): RunMeter | undefined {
  const cg = container.cgroup;
  if (!cg) return undefined;
  let last: CGroupStats | undefined;
  const read = (): CGroupStats | undefined => {
    try {
      last = container.stats();
    } catch {
      /* keep the last figures */
    }
    return last;
  };
  // The sandbox cannot spend CPU time faster than this many CPUs: the quota, or the pinned CPUs.
  const l = cg.limits;
  let parallelism = availableParallelism();
  if (l.cpu?.max && l.cpu.max.quotaUs !== null) parallelism = Math.min(parallelism, l.cpu.max.quotaUs / l.cpu.max.periodUs);
  if (l.cpuset?.cpus) parallelism = Math.min(parallelism, l.cpuset.cpus.split(',').length);
  return {
    cpuUsageUsec: () => read()?.cpu.usageUsec ?? 0,
    oomKills: () => read()?.memory.oomKills ?? 0,
    parallelism,
  };
}

/**
 * Calls `onExceeded` once the sandbox has used `budgetMs` of CPU time from
 * now, looking again when the rest of the budget could at the earliest be
 * spent (as collect() in lib/run.ts does). Returns the function that stops it.
 */
export function watchCpuTime(meter: RunMeter, budgetMs: number, onExceeded: () => void): () => void {
  const base = meter.cpuUsageUsec();
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const used = (meter.cpuUsageUsec() - base) / 1000;
    if (used >= budgetMs) {
      timer = undefined;
      onExceeded();
      return;
    }
    timer = setTimeout(check, Math.max(1, (budgetMs - used) / meter.parallelism));
  };
  timer = setTimeout(check, Math.max(1, budgetMs / meter.parallelism));
  return () => clearTimeout(timer);
}

/** The cgroup's final figures once the container has stopped, or undefined (no cgroup, or never ran). */
export function finalStats(container: Container): CGroupStats | undefined {
  if (!container.cgroup) return undefined;
  try {
    return container.stats();
  } catch {
    return undefined;
  }
}
