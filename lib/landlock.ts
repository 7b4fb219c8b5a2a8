/**
 * The Landlock domain init gives each container (csrc/init/landlock_scope.h):
 * a process inside cannot ptrace a process outside (read its memory, environ
 * or fds, take its fds, run code in it) and, from Linux 6.12, cannot signal
 * one or connect to an abstract Unix socket bound outside. Without it a
 * container with no pid namespace of its own, or no mount namespace (the
 * host's /proc), reaches every process of its uid on the host: other
 * containers' payloads (all `nobody` by default) included; and one with the
 * host's network reaches the host's abstract sockets.
 */
import { nativeForSpawn } from './native';

/** IK_LANDLOCK_* (csrc/init/landlock_scope.h). */
export const enum LandlockMode {
  /** ABI 6+: ptrace, signals, abstract Unix sockets; nothing inside changes. */
  Scope = 1,
  /** ABI 2-5: ptrace; the domain also refuses mount(2) and pivot_root. */
  Refer = 2,
}

const CAP_SYS_ADMIN = 1n << 21n;

let abi: number | undefined;

/** The kernel's Landlock ABI version, or -errno (asked once). */
export function landlockAbi(): number {
  return (abi ??= nativeForSpawn().landlockAbi());
}

/**
 * The domain for a container, or undefined where the kernel has none that
 * leaves what a payload may do inside unchanged: on ABI 2-5 the domain must
 * handle a file access, and such a domain refuses every mount, which a
 * payload given CAP_SYS_ADMIN, or user namespaces (seccomp 'unconfined'),
 * may need; on ABI 1 it would also refuse renames across directories.
 */
export function landlockMode(seccomp: 'unconfined' | undefined, capabilities: bigint, v = landlockAbi()): LandlockMode | undefined {
  if (v >= 6) return LandlockMode.Scope;
  if (v >= 2 && seccomp !== 'unconfined' && (capabilities & CAP_SYS_ADMIN) === 0n) return LandlockMode.Refer;
  return undefined;
}

/** The step's description (constants: the spawn path is hot). */
export const LANDLOCK_STEP: Record<LandlockMode, string> = {
  [LandlockMode.Scope]: 'confine ptrace, signals and abstract Unix sockets to the container (Landlock)',
  [LandlockMode.Refer]: 'confine ptrace to the container (Landlock)',
};

/** What probe() says about it. */
export function landlockReport(v = landlockAbi()): { ok: boolean; abi?: number; reason: string } {
  if (v >= 6) return { ok: true, abi: v, reason: `ABI ${v}: no process in a container can ptrace or signal one outside it, or connect to an abstract Unix socket bound outside it` };
  if (v >= 2) {
    return {
      ok: true,
      abi: v,
      reason: `ABI ${v}: no process in a container can ptrace one outside it (signals and abstract Unix sockets are scoped from Linux 6.12, ABI 6); not applied to containers with seccomp: 'unconfined' or CAP_SYS_ADMIN, as it would refuse their mounts`,
    };
  }
  if (v === 1) return { ok: false, abi: v, reason: 'ABI 1 (Linux 5.13-5.18) would refuse renames across directories; not used' };
  if (v === -38) return { ok: false, reason: 'not built into this kernel (CONFIG_SECURITY_LANDLOCK)' };
  if (v === -95) return { ok: false, reason: 'built in but not enabled at boot (add landlock to the lsm= kernel parameter)' };
  return { ok: false, reason: `landlock_create_ruleset: errno ${-v}` };
}
