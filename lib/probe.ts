/**
 * probe(): what this kernel and this caller can do, and why not. Every
 * answer comes from trying or reading the kernel's own files, never from
 * guessing by version alone.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import { Namespace, NAMESPACE_KINDS, type NamespaceKind } from './namespace';
import { native, nativeForSpawn } from './native';
import { join } from 'node:path';
import { landlockReport } from './landlock';
import { v1SwapAccounting } from './cgroup/v1';
import { v2SwapAccounting } from './cgroup/v2';
import { DEFAULT_PARENT, delegatedV2Preview, existingParentDirs, hostTopology, noV1Hierarchy, readCgroupMounts, resolveParent } from './cgroup/host';

export interface Capability {
  ok: boolean;
  /** Why not (or a note when ok). */
  reason?: string;
}

export interface CgroupReport {
  /** 'v2': unified only; 'hybrid': v1 controllers plus a v2 mount; 'v1': v1 only. */
  layout: 'v2' | 'hybrid' | 'v1' | 'none';
  /** Where cgroup2 is mounted, if it is. */
  v2Mount?: string;
  /** Controllers enabled at the v2 root. */
  v2Controllers: string[];
  /** v1 controllers and where each hierarchy is mounted. */
  v1Controllers: Record<string, string>;
  /** The backend CGroup uses here: 2 (unified), 1 (v1 or hybrid), null (none). */
  version: 1 | 2 | null;
  /**
   * Whether this caller can create cgroups: where (`parents`) and with which
   * controllers, or precisely why not (not root and nothing delegated, …).
   */
  usable: Capability & { parents?: string[]; controllers?: string[] };
  /**
   * Whether the kernel counts swap per group, so that a memory limit also
   * bounds swap (swapMax, 0 by default: docs/cgroups.md); when not (v1
   * without swapaccount=1), a group's processes may swap without bound.
   */
  swapAccounting: Capability;
  /**
   * Whether a memory limit also bounds huge pages (memory.hugetlbMax, 0 by
   * default: docs/cgroups.md), which memory.max does not count: the hugetlb
   * controller, on cgroup v2 or in a v1 hierarchy. When not, the reason
   * says why and what the host has reserved.
   */
  hugePages: Capability;
}

export interface ProbeReport {
  kernel: string;
  arch: string;
  node: string;
  uid: number;
  root: boolean;
  /** The native addon and the init binary. */
  addon: Capability;
  /** Each namespace kind: created for real by a throw-away child. */
  namespaces: Record<NamespaceKind, Capability>;
  /** open_tree, move_mount, mount_setattr (Linux 5.12+), used for every bind. */
  mountApi: Capability;
  overlayfs: Capability;
  unprivilegedUserNamespaces: Capability;
  cgroup: CgroupReport;
  libseccomp: Capability;
  /**
   * Landlock, with which init keeps each container's processes from
   * ptracing (and from Linux 6.12 signalling) processes outside it: the
   * kernel's ABI version and what it confines here, or why not.
   */
  landlock: Capability & { abi?: number };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** Reads the cgroup mounts of this process's mount namespace. */
export function probeCgroups(mountinfo = read('/proc/self/mountinfo') ?? ''): CgroupReport {
  const report: CgroupReport = { layout: 'none', v2Controllers: [], v1Controllers: {}, version: null, usable: { ok: false }, swapAccounting: { ok: false }, hugePages: { ok: false } };
  for (const line of mountinfo.split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    if (sep < 0) continue;
    const fstype = parts[sep + 1];
    const mountPoint = parts[4]!;
    if (fstype === 'cgroup2' && report.v2Mount === undefined) {
      report.v2Mount = mountPoint;
    } else if (fstype === 'cgroup') {
      const opts = (parts[sep + 3] ?? '').split(',');
      for (const o of opts) {
        if (['rw', 'ro', 'relatime', 'nosuid', 'nodev', 'noexec', 'noatime'].includes(o) || o.startsWith('name=') || o.startsWith('release_agent')) continue;
        report.v1Controllers[o] = mountPoint;
      }
    }
  }
  if (report.v2Mount) report.v2Controllers = (read(`${report.v2Mount}/cgroup.controllers`) ?? '').split(/\s+/).filter(Boolean);
  const hasV1 = Object.keys(report.v1Controllers).length > 0;
  report.layout = hasV1 ? (report.v2Mount ? 'hybrid' : 'v1') : report.v2Mount ? 'v2' : 'none';
  report.version = report.layout === 'none' ? null : report.layout === 'v2' ? 2 : 1;
  return report;
}

/**
 * Can this caller make cgroups, where, with which controllers? Root: the
 * default parent and what the hierarchies offer (nothing is created). Not
 * root: the delegated parent, or exactly why there is none.
 */
function cgroupUsable(report: CgroupReport): CgroupReport['usable'] {
  if (report.layout === 'none') return { ok: false, reason: 'no cgroup filesystem is mounted' };
  if (process.geteuid?.() === 0) {
    const m = readCgroupMounts();
    const v2 = report.layout === 'v2';
    const parents = v2 ? [join(m.v2Mount!, DEFAULT_PARENT)] : [...new Set(m.v1.values())].map((d) => join(d, DEFAULT_PARENT));
    const controllers = v2 ? report.v2Controllers : [...m.v1.keys()].map((c) => (c === 'blkio' ? 'io' : c));
    try {
      existingParentDirs(); // a default parent others could write is refused (host.ts): say so here too
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
    return { ok: true, parents, controllers: [...controllers].sort() };
  }
  try {
    if (report.layout === 'v2') {
      // Found without making it (resolveParent() would make the parent).
      const { parent, controllers } = delegatedV2Preview();
      return { ok: true, parents: [parent], controllers };
    }
    const p = resolveParent();
    const parents = [...new Set(p.v1Dirs.values())];
    return { ok: true, parents, controllers: [...p.controllers].sort() };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * Swap accounting, from the files a group below the top would have (v1:
 * memory.memsw.*, v2: memory.swap.max, which the top group lacks); nothing
 * is created to find out.
 */
function swapAccounting(report: CgroupReport): Capability {
  const counted: Capability = { ok: true, reason: 'memory limits bound swap too (swapMax 0 unless given)' };
  const memory = report.v1Controllers.memory;
  if (report.version === 1) {
    if (!memory) return { ok: false, reason: 'no memory hierarchy is mounted' };
    return v1SwapAccounting(memory) ? counted : { ok: false, reason: 'the kernel does not count swap per group (boot with swapaccount=1): groups may swap without bound' };
  }
  if (report.version !== 2 || !report.v2Mount || !report.v2Controllers.includes('memory')) return { ok: false, reason: 'no memory controller' };
  let below: string | undefined;
  try {
    below = readdirSync(report.v2Mount, { withFileTypes: true }).find((d) => d.isDirectory() && existsSync(join(report.v2Mount!, d.name, 'memory.max')))?.name;
  } catch {
    /* unreadable: unknown */
  }
  if (below === undefined) return { ok: false, reason: 'unknown: no group below the top has the memory controller yet' };
  // (The same file the library looks for in its parent: cgroup/v2.ts.)
  return v2SwapAccounting(join(report.v2Mount, below)) ? counted : { ok: false, reason: 'the kernel has no memory.swap.max (no swap support): nothing to bound' };
}

/** Whether memory limits bound huge pages here (see CgroupReport.hugePages). */
function hugePages(r: CgroupReport, usable: CgroupReport['usable']): Capability {
  const sizes = hostTopology().hugePages ?? [];
  if (sizes.length === 0) return { ok: true, reason: 'the kernel has no huge pages: nothing to bound' };
  const ours = usable.controllers ?? (r.version === 2 ? r.v2Controllers : Object.keys(r.v1Controllers));
  if (ours.includes('hugetlb')) return { ok: true, reason: 'memory limits bound huge pages too (hugetlbMax 0 unless given)' };
  const pools = sizes.map((s) => {
    const dir = `/sys/kernel/mm/hugepages/hugepages-${s.bytes / 1024}kB`;
    const n = Number(read(`${dir}/nr_hugepages`) ?? 0) + Number(read(`${dir}/nr_overcommit_hugepages`) ?? 0);
    return n > 0 ? `${n} of ${s.name.replace(/B$/, '')}` : '';
  });
  const reserved = pools.filter(Boolean).join(', ');
  const why =
    r.version === 2
      ? 'no hugetlb controller'
      : r.v1Controllers.hugetlb !== undefined
        ? `this caller cannot make groups in the hugetlb hierarchy (${usable.reason ?? 'not root, and it is not delegated'})`
        : `the hugetlb controller: ${noV1Hierarchy('hugetlb')}`;
  return { ok: false, reason: `${why}: a group's processes may take the host's huge pages (${reserved ? `it has ${reserved} reserved or overcommittable` : 'it reserves none now'})` };
}

function withUsable(r: CgroupReport): CgroupReport {
  const usable = cgroupUsable(r);
  return { ...r, usable, swapAccounting: swapAccounting(r), hugePages: hugePages(r, usable) };
}

function userns(): Capability {
  const max = read('/proc/sys/user/max_user_namespaces');
  if (max === '0') return { ok: false, reason: 'user.max_user_namespaces is 0' };
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return { ok: false, reason: 'kernel.unprivileged_userns_clone is 0 (Debian): sysctl -w kernel.unprivileged_userns_clone=1' };
  }
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return { ok: false, reason: 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)' };
  }
  return { ok: true };
}

/** Everything isolate-kit can find out about this host. */
export function probe(): ProbeReport {
  const uid = process.getuid?.() ?? -1;
  let addon: Capability = { ok: true };
  try {
    nativeForSpawn();
  } catch (err) {
    addon = { ok: false, reason: (err as Error).message };
  }
  const namespaces = {} as Record<NamespaceKind, Capability>;
  for (const kind of NAMESPACE_KINDS) {
    if (!addon.ok) {
      namespaces[kind] = { ok: false, reason: 'the addon is not available' };
      continue;
    }
    const why = Namespace.probe(kind);
    namespaces[kind] = why === null ? { ok: true } : { ok: false, reason: why };
  }
  const filesystems = read('/proc/filesystems') ?? '';
  const overlayModule = existsSync(`/lib/modules/${release()}/kernel/fs/overlayfs`);
  let libseccomp: Capability;
  try {
    const why = native().libseccomp();
    libseccomp = why === null ? { ok: true } : { ok: false, reason: why };
  } catch (err) {
    libseccomp = { ok: false, reason: (err as Error).message };
  }
  return {
    kernel: release(),
    arch: arch(),
    node: process.version,
    uid,
    root: uid === 0,
    addon,
    namespaces,
    mountApi: kernelAtLeast(5, 12) ? { ok: true } : { ok: false, reason: `Linux ${release()} is older than 5.12 (mount_setattr)` },
    overlayfs: /\boverlay\b/.test(filesystems)
      ? { ok: true }
      : overlayModule
        ? { ok: true, reason: 'as a module, loaded on first use' }
        : { ok: false, reason: 'overlay is not in /proc/filesystems' },
    unprivilegedUserNamespaces: userns(),
    cgroup: withUsable(probeCgroups()),
    libseccomp,
    landlock: addon.ok ? landlockReport() : { ok: false, reason: 'the addon is not available' },
  };
}
