/**
 * What this host lets the tests do. A test that cannot run here skips with
 * the reason; with ISOLATE_KIT_MUST_WORK=1 (CI) the skip becomes a failure,
 * so CI never passes by skipping.
 */
import { resolveParent } from '../../lib/cgroup/host';
import { Namespace } from '../../lib/namespace';

export const mustWork = process.env.ISOLATE_KIT_MUST_WORK === '1';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why containers cannot run here, or null when they can. */
export function containersUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (!isRoot()) return 'containers need root until rootless support lands';
  for (const kind of ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const) {
    const why = Namespace.probe(kind);
    if (why) return `cannot create a ${kind} namespace: ${why}`;
  }
  return null;
}

/** Why this process cannot create cgroups here, or null when it can. */
export function cgroupsUnavailable(): string | null {
  const why = containersUnavailable();
  if (why) return why;
  try {
    resolveParent();
    return null;
  } catch (err) {
    return `cgroups are not usable: ${(err as Error).message}`;
  }
}

/** For suites that need cgroups: call in before(). */
export function needCgroups(ctx: Mocha.Context): void {
  skipUnless(ctx, cgroupsUnavailable());
}

/** Skips the test or suite (`this` of a mocha function) unless `reason` is null. */
export function skipUnless(ctx: Mocha.Context, reason: string | null): void {
  if (reason === null) return;
  if (mustWork) throw new Error(`ISOLATE_KIT_MUST_WORK=1 but this test cannot run here: ${reason}`);
  ctx.skip();
}

/** For suites that need real containers: call in before(). */
export function needContainers(ctx: Mocha.Context): void {
  skipUnless(ctx, containersUnavailable());
}
