/**
 * Which capabilities this process holds where they count for the host's
 * resources: in its effective set, and in the initial user namespace (the
 * kernel asks `capable()` there to raise a hard rlimit or set a cgroup's
 * devices list, whoever owns the thing).
 */
import { readFileSync } from 'node:fs';

export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_RESOURCE = 24;
export const CAP_BPF = 39;

/** Whether this process holds capability `cap` (its number) in its effective set, in the initial user namespace. */
export function holdsHostCapability(cap: number): boolean {
  let status: string;
  let uidMap: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
    uidMap = readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return false; // no /proc: say no, and let the kernel have the last word
  }
  const eff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  // Capabilities count in the user namespace they belong to: the host's maps every uid to itself.
  return ((eff >> BigInt(cap)) & 1n) === 1n && /^\s*0\s+0\s+4294967295\s*$/.test(uidMap);
}
