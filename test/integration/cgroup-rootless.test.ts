/**
 * cgroups as an unprivileged user (uid 65534): a precise ERR_PERMISSION with
 * nothing delegated, and a working group inside a delegated subtree (set up
 * here by root, as systemd's Delegate=yes or a container engine would).
 */
import { chownSync, existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CGroup } from '../../lib';
import { readCgroupMounts, resolveParent } from '../../lib/cgroup/host';
import { needCgroups } from '../helpers/caps';
import { runAsNobody } from '../fixtures/procs';

const NOBODY = 65534;

/** Removes a cgroup tree bottom-up (only what we made). */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  rmdirSync(dir);
}

describe('CGroup as an unprivileged user', function () {
  this.timeout(60_000);
  before(function () {
    needCgroups(this);
  });

  it('should say precisely why limits cannot be applied when nothing is delegated (probe too)', async function () {
    const r = await runAsNobody('plain');
    expect(r.code).to.equal('ERR_PERMISSION');
    expect(r.message).to.match(/^cgroup limits need root or (a )?delegated cgroups?/);
    expect(r.message).to.match(/not writable by uid 65534/);
    expect(r.message).to.include('Delegate=yes');
    const usable = r.usable as { ok: boolean; reason: string };
    expect(usable.ok).to.equal(false);
    expect(usable.reason).to.equal(r.message);
  });

  // cgroup v2 only: v1 has no "no internal processes" rule, and uses the cgroup itself.
  it('should say how to leave a delegated v2 cgroup it runs in itself (a `parent` would not help)', async function () {
    if (CGroup.version() !== 2) return; // v1 uses such a cgroup as it is (next test); the v2 VM suite runs this
    resolveParent();
    const d = join(readCgroupMounts().v2Mount!, 'isolate-kit', `deleg-in-${process.pid}`);
    mkdirSync(d);
    try {
      for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(d, f), NOBODY, NOBODY);
      const r = await runAsNobody('moved', (pid) => writeFileSync(join(d, 'cgroup.procs'), String(pid)));
      expect(r.code).to.equal('ERR_PERMISSION');
      expect(r.message).to.include(`runs in the delegated cgroup /isolate-kit/deleg-in-${process.pid} itself`);
      expect(r.message).to.include(`\`mkdir ${d}/node && echo $$ > ${d}/node/cgroup.procs\``).and.include(`${d}/isolate-kit`);
      expect(r.message).to.not.include('writable `parent`');
      expect(readdirSync(d).filter((n) => !n.includes('.'))).to.deep.equal([]);
    } finally {
      removeTree(d);
    }
  });

  it('should make, use and remove a group in a delegated subtree', async function () {
    resolveParent(); // root's isolate-kit parent, with controllers enabled on v2
    const m = readCgroupMounts();
    const name = `deleg-${process.pid}`;
    const v2 = CGroup.version() === 2;
    // The delegated cgroup D in every hierarchy we hand over; on v2 the
    // fixture runs in D/self, as cgroup v2 wants no processes in D itself.
    const roots = v2 ? [join(m.v2Mount!, 'isolate-kit')] : ['memory', 'cpuacct', 'pids'].map((c) => join(m.v1.get(c)!, 'isolate-kit'));
    const dirs = roots.map((r) => join(r, name));
    try {
      for (const d of dirs) {
        mkdirSync(d);
        const files = v2 ? ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'] : ['', 'cgroup.procs', 'tasks'];
        for (const f of files) chownSync(join(d, f), NOBODY, NOBODY);
        if (v2) {
          mkdirSync(join(d, 'self'));
          for (const f of ['', 'cgroup.procs', 'cgroup.threads']) chownSync(join(d, 'self', f), NOBODY, NOBODY);
        }
      }
      const r = await runAsNobody('delegated', (pid) => {
        for (const d of dirs) writeFileSync(join(d, v2 ? 'self' : '', 'cgroup.procs'), String(pid));
      });
      expect(r.message, String(r.message)).to.equal(undefined);
      // probe() found the delegated parent, and on v2 (where the library
      // would make it and enable controllers) made nothing to find out.
      const usable = r.usable as { ok: boolean; parents: string[]; controllers: string[] };
      expect(usable.ok, JSON.stringify(usable)).to.equal(true);
      if (v2) {
        expect(usable.parents).to.deep.equal([join(dirs[0]!, 'isolate-kit')]);
        expect(usable.controllers).to.include.members(['memory', 'pids']);
        expect(r.madeByProbe).to.deep.equal([false]);
      }
      expect(r.devices).to.deep.include({ code: 'ERR_PERMISSION', option: 'devices' });
      expect((r.devices as { message: string }).message).to.match(/^`devices` needs CAP_SYS_ADMIN in the host's user namespace \(root\)/);
      const paths = r.paths as string[];
      expect(paths.length).to.equal(v2 ? 1 : 3);
      for (const p of paths) expect(dirs.some((d) => p.startsWith(`${d}/`)), p).to.equal(true);
      expect(r.procs).to.deep.equal([r.childPid]);
      // (memory already charged elsewhere does not move with a process on v1)
      expect((r.stats as { pids: { current: number } }).pids.current).to.equal(1);
      expect(r.gone).to.equal(true);
    } finally {
      for (const d of dirs) removeTree(d);
    }
  });
});
