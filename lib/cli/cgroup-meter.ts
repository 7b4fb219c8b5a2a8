/** What `run` learns from the container's cgroup once it has stopped: OOM kills, for the 'oom' status. */
import type { CGroupStats } from '../cgroup/backend';
import type { Container } from '../container';

/** The cgroup's final figures once the container has stopped, or undefined (no cgroup, or never ran). */
export function finalStats(container: Container): CGroupStats | undefined {
  if (!container.cgroup) return undefined;
  try {
    return container.stats();
  } catch {
    return undefined;
  }
}
