/**
 * What a v1 parent group bounds, checked before a group is made or updated.
 *
 * On cgroup v1 the kernel refuses, at the write and so after the group is
 * made, a CPU limit above its nearest limited ancestor's (cpu.cfs_quota_us:
 * EINVAL) and CPUs or memory nodes outside its parent's cpuset (EACCES). A
 * `parent` the caller limited itself ('/jobs', a delegated group) meets both;
 * isolate-kit's own parent is unlimited unless an administrator limits it.
 * On v2 the kernel takes either and applies what the parent allows (the
 * `.effective` files), so there is nothing to check.
 *
 * Read as the parent is now: a parent changed after the check makes the
 * write fail as before, with the kernel's errno.
 */
import { dirname, join } from 'node:path';
import { IsolateError } from '../errors';
import { readText, type CgroupParent } from './host';
import { compact, parseCpuList, type NormalizedLimits } from './limits';

/** The kernel's fixed-point CPU bandwidth ratio (to_ratio(): runtime << BW_SHIFT / period). */
function ratio(quotaUs: number, periodUs: number): bigint {
  return (BigInt(quotaUs) << 20n) / BigInt(periodUs);
}

/** The nearest group at or above `dir` with a CPU quota (as the kernel's hierarchical_quota finds it), or null. */
function limitedAncestor(dir: string): { dir: string; quotaUs: number; periodUs: number } | null {
  for (let d = dir; ; d = dirname(d)) {
    const quota = readText(join(d, 'cpu.cfs_quota_us'));
    // Above the hierarchy's root there is no such file: no limit anywhere.
    if (quota === undefined) return null;
    const quotaUs = Number(quota);
    const periodUs = Number(readText(join(d, 'cpu.cfs_period_us')));
    if (quotaUs > 0 && periodUs > 0) return { dir: d, quotaUs, periodUs };
    if (dirname(d) === d) return null;
  }
}

function cpus(quotaUs: number, periodUs: number): string {
  return `${Number((quotaUs / periodUs).toPrecision(6))} CPU`;
}

/** Throws ERR_INVALID_OPTION when `l` asks for more than a v1 parent allows. */
export function checkParentBounds(l: NormalizedLimits, parent: CgroupParent): void {
  if (parent.version !== 1) return;
  const max = l.cpu?.max;
  const cpuDir = parent.v1Dirs.get('cpu');
  if (max && max.quotaUs !== null && cpuDir !== undefined) {
    const above = limitedAncestor(cpuDir);
    if (above && ratio(max.quotaUs, max.periodUs) > ratio(above.quotaUs, above.periodUs)) {
      throw new IsolateError(
        'ERR_INVALID_OPTION',
        `The CPU limit (${max.quotaUs} µs per ${max.periodUs} µs, ${cpus(max.quotaUs, max.periodUs)}) is more than the parent group allows: ` +
          `${above.dir} has ${above.quotaUs} µs per ${above.periodUs} µs (${cpus(above.quotaUs, above.periodUs)}), and on cgroup v1 the kernel refuses a group more CPU time than its nearest limited ancestor`,
        { option: 'cpu.max', path: above.dir },
      );
    }
  }
  const csDir = parent.v1Dirs.get('cpuset');
  if (!l.cpuset || csDir === undefined) return;
  for (const key of ['cpus', 'mems'] as const) {
    const want = l.cpuset[key];
    const allowedText = readText(join(csDir, `cpuset.${key}`));
    if (want === undefined || !allowedText) continue;
    const allowed = new Set(parseCpuList(`cpuset.${key}`, allowedText));
    const outside = parseCpuList(`cpuset.${key}`, want).filter((n) => !allowed.has(n));
    if (outside.length === 0) continue;
    const what = key === 'cpus' ? 'CPU' : 'memory node';
    throw new IsolateError(
      'ERR_INVALID_OPTION',
      `\`cpuset.${key}\` names ${what}${outside.length > 1 ? 's' : ''} ${compact(outside)}, which the parent group does not allow: ` +
        `${csDir} has cpuset.${key} ${allowedText}, and on cgroup v1 a group's ${what}s must be among its parent's`,
      { option: `cpuset.${key}`, path: csDir },
    );
  }
}
