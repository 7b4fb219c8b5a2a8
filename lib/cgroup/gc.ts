/**
 * Removes the cgroups of isolate-kit processes that died without cleaning
 * up (a crash, SIGKILL). Every group's name carries its owner's pid and that
 * process's start time, so a pid reused by an unrelated process is not taken
 * for the owner; and since those are as the owner's namespaces see them, a
 * group is taken for dead only when no one holds its owner's mark either
 * (owner.ts): an owner in another pid or time namespace holds it.
 */
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree, stopGroup, whyBusy } from './files';
import { CGROUP_NAME_RE, existingParentDirs, processStartTime, resolveParent } from './host';
import { MARK_YOUNG_MS, markState, OWNER_MARK_RE } from './owner';

export interface CgroupGcReport {
  /** Directories removed (groups, and the marks of their dead owners: `<pid>-<start>.owner`). */
  removed: string[];
  /** Directories of dead owners that could not be removed yet (processes that would not die), with why. */
  failed: { path: string; reason: string }[];
}

/** Where to look: the parent's directories that exist (gc creates nothing). */
function parentDirs(parent?: string): string[] {
  if (parent === undefined && process.geteuid?.() !== 0) {
    // Not root: the delegated parent, if there is one.
    const p = resolveParent();
    return p.version === 2 ? [p.v2Dir!] : [...new Set(p.v1Dirs.values())];
  }
  return existingParentDirs(parent);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Finds groups under the parent (default: the one CGroup uses) whose owner
 * is gone, kills what still runs in them and removes them, and the dead
 * owners' marks.
 */
export async function gcCgroups(options: { parent?: string } = {}): Promise<CgroupGcReport> {
  const report: CgroupGcReport = { removed: [], failed: [] };
  const parents = parentDirs(options.parent);
  // Owner (`pid-start`) → its marks, and its groups (name → directories in every hierarchy).
  const marks = new Map<string, string[]>();
  const groups = new Map<string, Map<string, string[]>>();
  for (const parent of parents) {
    for (const name of list(parent)) {
      const mark = OWNER_MARK_RE.exec(name);
      const m = mark ?? CGROUP_NAME_RE.exec(name);
      if (!m) continue;
      const owner = `${m[1]}-${m[2]}`;
      if (mark) {
        marks.set(owner, [...(marks.get(owner) ?? []), join(parent, name)]);
        continue;
      }
      let byName = groups.get(owner);
      if (!byName) groups.set(owner, (byName = new Map()));
      byName.set(name, [...(byName.get(name) ?? []), join(parent, name)]);
    }
  }
  for (const owner of new Set([...marks.keys(), ...groups.keys()])) {
    const [pid, start] = owner.split('-').map(Number) as [number, number];
    if (processStartTime(pid) === start) continue; // alive, in our pid namespace
    const ownMarks = marks.get(owner) ?? [];
    const states = ownMarks.map((d) => markState(d, MARK_YOUNG_MS));
    if (states.includes('held')) continue; // alive, seen from another namespace
    const byName = groups.get(owner);
    // A young mark without groups: its owner may be about to lock it.
    if (!byName && states.includes('new')) continue;
    // Thaw all its groups first (on v1 the freezer is a directory of its
    // own, and a cpuacct one may have another name), then kill and remove.
    for (const dirs of byName?.values() ?? []) for (const d of dirs) stopGroup(d, false);
    for (const dirs of byName?.values() ?? []) {
      for (const d of dirs) {
        const why = await removeWithKill(d);
        if (why === null) report.removed.push(d);
        else report.failed.push({ path: d, reason: why });
      }
    }
    if (!report.failed.some((f) => groupOwner(f.path) === owner)) {
      for (const d of ownMarks) {
        try {
          rmdirSync(d);
          report.removed.push(d);
        } catch {
          /* a later gc() */
        }
      }
    }
  }
  return report;
}

function groupOwner(path: string): string | undefined {
  const m = CGROUP_NAME_RE.exec(path.slice(path.lastIndexOf('/') + 1));
  return m ? `${m[1]}-${m[2]}` : undefined;
}

async function removeWithKill(dir: string): Promise<string | null> {
  for (let i = 0; i < 100; i++) {
    if (removeTree(dir)) return null;
    stopGroup(dir);
    await new Promise((r) => setTimeout(r, Math.min(1 + i * 2, 50)));
  }
  return whyBusy(dir);
}
