/**
 * Removes the cgroups of isolate-kit processes that died without cleaning
 * up (a crash, SIGKILL). Every group's name carries its owner's pid and that
 * process's start time, so a pid reused by an unrelated process is not taken
 * for the owner.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_NAME_RE } from './cgroup';
import { pidsIn, removeDir, writeControl } from './files';
import { exists, existingParentDirs, processStartTime, resolveParent } from './host';

export interface CgroupGcReport {
  /** Directories removed. */
  removed: string[];
  /** Directories of dead owners that could not be removed yet (processes that would not die), with why. */
  failed: { path: string; reason: string }[];
}

/** Is the process that made a group named so still alive (same pid, same start time)? */
function ownerAlive(pid: number, start: number): boolean {
  return processStartTime(pid) === start;
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

async function removeWithKill(dir: string): Promise<string | null> {
  for (let i = 0; i < 100; i++) {
    if (removeDir(dir)) return null;
    const kill = join(dir, 'cgroup.kill');
    if (exists(kill)) {
      try {
        writeControl(kill, '1', 'kill');
      } catch {
        /* fall back to signals */
      }
    }
    // A frozen group's processes cannot die.
    for (const f of ['cgroup.freeze', 'freezer.state']) {
      if (exists(join(dir, f))) {
        try {
          writeControl(join(dir, f), f === 'cgroup.freeze' ? '0' : 'THAWED', 'thaw');
        } catch {
          /* not frozen */
        }
      }
    }
    for (const pid of pidsIn(join(dir, 'cgroup.procs'))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(1 + i * 2, 50)));
  }
  return `processes ${pidsIn(join(dir, 'cgroup.procs')).join(', ')} do not die`;
}

/**
 * Finds groups under the parent (default: the one CGroup uses) whose owner
 * is gone, kills what still runs in them and removes them.
 */
export async function gcCgroups(options: { parent?: string } = {}): Promise<CgroupGcReport> {
  const report: CgroupGcReport = { removed: [], failed: [] };
  for (const parent of parentDirs(options.parent)) {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = CGROUP_NAME_RE.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (ownerAlive(pid, Number(m[2]))) continue;
      const dir = join(parent, name);
      const why = await removeWithKill(dir);
      if (why === null) report.removed.push(dir);
      else report.failed.push({ path: dir, reason: why });
    }
  }
  return report;
}
