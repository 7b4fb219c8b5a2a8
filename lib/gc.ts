/** gc(): removes what crashed isolate-kit processes left behind. */
import { isIsolateError } from './errors';
import { gcCgroups, type CgroupGcReport } from './cgroup/gc';

export interface GcReport {
  /** cgroups of dead owners; `skipped` says why none were looked at (no cgroups here, not root). */
  cgroups: CgroupGcReport & { skipped?: string };
}

/** Finds and removes the cgroups of isolate-kit processes that are gone. Safe to run any time. */
export async function gc(options: { cgroupParent?: string } = {}): Promise<GcReport> {
  let cgroups: GcReport['cgroups'];
  try {
    cgroups = await gcCgroups({ parent: options.cgroupParent });
  } catch (err) {
    if (!isIsolateError(err) || (err.code !== 'ERR_UNSUPPORTED' && err.code !== 'ERR_PERMISSION')) throw err;
    cgroups = { removed: [], failed: [], skipped: err.message };
  }
  return { cgroups };
}
