/**
 * The cgroup `parent` option on a real kernel: a parent someone else could
 * rearrange is refused (as root, and as a delegated non-root user), a nested
 * parent gets cpuset's CPUs and memory nodes all the way down (v1) or its
 * controllers (v2), and a filesystem path is not taken for a cgroup path.
 * Every directory a test makes is under isolate-kit/pt-<pid> and removed
 * by the test, deepest first.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CGroup, Container, IsolateError, gc } from '../../lib';
import { readCgroupMounts, resetParents, resolveParent } from '../../lib/cgroup/host';
import { _setPoolEnabled } from '../../lib/cgroup/pool';
import { _releaseOwnerMark } from '../../lib/cgroup/owner';
import { needCgroups } from '../helpers/caps';
import { runAsNobody } from '../fixtures/procs';

const NOBODY = 65534;
const OTHER = 4242; // a uid nobody here runs as
const BASE = `isolate-kit/pt-${process.pid}`;

const version = (): 1 | 2 => CGroup.version() as 1 | 2;

/** Every hierarchy's root (v2: the one mount). */
function roots(): string[] {
  const m = readCgroupMounts();
  return version() === 2 ? [m.v2Mount!] : [...new Set(m.v1.values())];
}

/** The mount of `controller`'s hierarchy (v2: the one mount). */
function rootOf(controller: string): string {
  const m = readCgroupMounts();
  return version() === 2 ? m.v2Mount! : m.v1.get(controller)!;
}

/** Removes a cgroup tree bottom-up, letting go of this process's owner marks first. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  _releaseOwnerMark(dir);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  rmdirSync(dir);
}

/** Removes BASE from every hierarchy (whatever a test left in it) and forgets the parents resolved under it. */
function cleanBase(): void {
  resetParents();
  for (const r of roots()) removeTree(join(r, BASE));
}

/** What BASE holds in any hierarchy, as paths relative to the hierarchy root (directories only). */
function underBase(): string[] {
  const out: string[] = [];
  const walk = (root: string, rel: string): void => {
    const dir = join(root, rel);
    if (!existsSync(dir)) return;
    out.push(`${root}:${rel}`);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(root, join(rel, e.name));
  };
  for (const r of roots()) walk(r, BASE);
  return out;
}

function expectRefused(fn: () => unknown, code: 'ERR_PERMISSION' | 'ERR_INVALID_OPTION'): IsolateError {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error, 'expected an IsolateError').to.be.instanceOf(IsolateError);
  const e = error as IsolateError;
  expect(e.code, e.message).to.equal(code);
  expect(e.option).to.equal('parent');
  return e;
}

/** On v2, hands the controllers `dir` has on to its children (as root, in a directory the test made). */
function enableAll(dir: string): void {
  if (version() !== 2) return;
  for (const c of readFileSync(join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean)) {
    try {
      writeFileSync(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch {
      /* not every controller can be handed on */
    }
  }
}


describe('cgroup parent', function () {
  this.timeout(60_000);
  before(function () {
    needCgroups(this);
    resolveParent(); // the default parent exists (and on v2 hands its controllers on)
    _setPoolEnabled(false); // no pooled or kept groups in the test's parents: they can be removed right after
  });
  after(() => _setPoolEnabled(undefined));
  afterEach(cleanBase);

  describe('as root: a parent only root can change', function () {
    const pidsDir = () => join(rootOf('pids'), BASE);

    it('should refuse a parent owned by another user, naming it, its owner and mode, before creating anything', async function () {
      mkdirSync(pidsDir());
      chownSync(pidsDir(), NOBODY, NOBODY);
      const e = expectRefused(() => new CGroup({ pids: 8 }, { parent: BASE }), 'ERR_PERMISSION');
      expect(e.path).to.equal(pidsDir());
      expect(e.message).to.include(pidsDir()).and.include('owned by uid 65534').and.include('mode 0755');
      // An unsafe directory above the parent counts the same; nothing is made below it, or in another hierarchy.
      const e2 = expectRefused(() => new CGroup({ pids: 8, memory: '32M' }, { parent: `${BASE}/jobs/x` }), 'ERR_PERMISSION');
      expect(e2.path).to.equal(pidsDir());
      expect(underBase()).to.deep.equal([`${rootOf('pids')}:${BASE}`]);
      // gc() does not go into it either (it would kill and remove what it finds there).
      const report = await gc({ cgroupParent: BASE });
      expect(report.cgroups.skipped).to.include('Refusing the cgroup parent').and.include(`${pidsDir()} is owned by uid 65534`);
    });

    it('should refuse a parent, or a directory above it, that others or its group can write', function () {
      mkdirSync(pidsDir());
      chmodSync(pidsDir(), 0o777);
      const e = expectRefused(() => new CGroup({ pids: 8 }, { parent: BASE }), 'ERR_PERMISSION');
      expect(e.message).to.include(pidsDir()).and.include('owned by uid 0 with mode 0777').and.include('any user');
      // The parent itself fine, the one above it group-writable.
      chmodSync(pidsDir(), 0o775);
      mkdirSync(join(pidsDir(), 'jobs'));
      const e2 = expectRefused(() => new CGroup({ pids: 8 }, { parent: `${BASE}/jobs` }), 'ERR_PERMISSION');
      expect(e2.path).to.equal(pidsDir());
      expect(e2.message).to.include('mode 0775').and.include('group 0');
    });

    it('should use the same parent once it is root-owned and not writable by others (a refusal is not remembered)', async function () {
      mkdirSync(pidsDir());
      chmodSync(pidsDir(), 0o777);
      expectRefused(() => new CGroup({ pids: 8 }, { parent: BASE }), 'ERR_PERMISSION');
      chmodSync(pidsDir(), 0o755);
      const cg = new CGroup({ pids: 8 }, { parent: BASE });
      const r = await Container.run(['true'], { cgroup: cg });
      expect(r.status, r.stderr).to.equal('ok');
      await cg.destroy();
    });
  });

  describe('as a delegated non-root user (uid 65534)', function () {
    /**
     * BASE/d in the hierarchies the fixture uses, chowned to nobody as a
     * delegation would (BASE owned by `baseUid`); the fixture runs in d
     * (v1) or d/self (v2, no processes in a cgroup handing controllers on).
     */
    function delegate(baseUid: number, dMode = 0o755): string[] {
      const v2 = version() === 2;
      const hierarchies = v2 ? [rootOf('')] : ['memory', 'cpuacct', 'pids'].map(rootOf);
      const ds: string[] = [];
      for (const r of hierarchies) {
        const base = join(r, BASE);
        mkdirSync(base);
        enableAll(base);
        chownSync(base, baseUid, baseUid);
        const d = join(base, 'd');
        mkdirSync(d);
        const files = v2 ? ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads'] : ['', 'cgroup.procs', 'tasks'];
        for (const f of files) chownSync(join(d, f), NOBODY, NOBODY);
        chmodSync(d, dMode);
        if (v2) {
          mkdirSync(join(d, 'self'));
          for (const f of ['', 'cgroup.procs', 'cgroup.threads']) chownSync(join(d, 'self', f), NOBODY, NOBODY);
        }
        ds.push(d);
      }
      return ds;
    }
    const moveInto = (ds: string[]) => (pid: number) => {
      for (const d of ds) writeFileSync(join(d, version() === 2 ? 'self' : '', 'cgroup.procs'), String(pid));
    };

    it('should work in a subtree owned by the caller all the way from a root-owned directory', async function () {
      const ds = delegate(NOBODY);
      const r = await runAsNobody('delegated', moveInto(ds));
      expect(r.message, String(r.message)).to.equal(undefined);
      for (const p of r.paths as string[]) expect(ds.some((d) => p.startsWith(`${d}/`)), p).to.equal(true);
      expect(r.procs).to.deep.equal([r.childPid]);
      expect(r.gone).to.equal(true);
    });

    it('should refuse a delegated cgroup that others can write', async function () {
      const ds = delegate(NOBODY, 0o777);
      const r = await runAsNobody('delegated', moveInto(ds));
      expect(r.code).to.equal('ERR_PERMISSION');
      const msg = String(r.message);
      expect(ds.some((d) => msg.includes(`${d} is owned by uid 65534 with mode 0777`)), msg).to.equal(true);
      expect(msg).to.include('must be owned by uid 65534 or root');
    });

    it('should refuse a delegated cgroup under a directory another user owns', async function () {
      const ds = delegate(OTHER);
      const r = await runAsNobody('delegated', moveInto(ds));
      expect(r.code).to.equal('ERR_PERMISSION');
      const msg = String(r.message);
      expect(ds.some((d) => msg.includes(`${join(d, '..')} is owned by uid ${OTHER} with mode 0755`)), msg).to.equal(true);
    });
  });

  describe('nested parents', function () {
    it('should give every directory of a new nested parent what a cpuset group needs, and leave nothing behind', async function () {
      const parent = `${BASE}/a/b`;
      {
        const cg = new CGroup({ cpuset: '0', pids: 16 }, { parent });
        try {
          const cpus = version() === 2 ? '/sys/fs/cgroup/cpuset.cpus' : '/sys/fs/cgroup/cpuset/cpuset.cpus';
          const r = await Container.run(['sh', '-c', `cat ${cpus}; grep Cpus_allowed_list /proc/self/status`], { cgroup: cg });
          expect(r.stderr).to.equal('');
          expect(r.status).to.equal('ok');
          expect(r.stdout.trim().split('\n')).to.deep.equal(['0', 'Cpus_allowed_list:\t0']);
        } finally {
          await cg.destroy();
        }
        if (version() === 1) {
          // Each new directory got its parent's CPUs and memory nodes, down from the default parent's.
          const top = join(rootOf('cpuset'), 'isolate-kit');
          for (const rel of [BASE, `${BASE}/a`, parent]) {
            for (const f of ['cpuset.cpus', 'cpuset.mems']) {
              expect(readFileSync(join(rootOf('cpuset'), rel, f), 'utf8').trim(), `${rel}/${f}`).to.equal(readFileSync(join(top, f), 'utf8').trim());
            }
          }
        }
        // Nothing is left in the parent (but this process's owner mark, let go of here).
        for (const r of roots()) _releaseOwnerMark(join(r, parent));
        const left = underBase().filter((p) => !p.endsWith(`:${BASE}`) && !p.endsWith(`:${BASE}/a`) && !p.endsWith(`:${parent}`));
        expect(left).to.deep.equal([]);
      }
    });
  });

  describe('a parent that limits its groups itself', function () {
    it('should refuse up front, on v1, more CPU time or other CPUs than the parent allows, and take them on v2 (the kernel clamps)', async function () {
      const parent = `${BASE}/lim`;
      new CGroup({ pids: 8 }, { parent }); // makes the parent
      const dirOf = (c: string) => join(rootOf(c), parent);
      writeFileSync(join(dirOf('cpu'), version() === 2 ? 'cpu.max' : 'cpu.cfs_quota_us'), version() === 2 ? '50000 100000' : '50000');
      const twoCpus = readFileSync(join(dirOf('cpuset'), version() === 2 ? 'cpuset.cpus.effective' : 'cpuset.cpus'), 'utf8').trim() !== '0';
      if (twoCpus) writeFileSync(join(dirOf('cpuset'), 'cpuset.cpus'), '0');
      const over = [{ cpus: 1 }, { cpu: { max: { quotaUs: 25001, periodUs: 50000 } } }, ...(twoCpus ? [{ cpuset: '0-1' }, { cpuset: { cpus: '1' } }] : [])];
      if (version() === 1) {
        for (const limits of over) {
          let err: unknown;
          try {
            new CGroup(limits, { parent });
          } catch (e) {
            err = e;
          }
          expect(err, JSON.stringify(limits)).to.be.instanceOf(IsolateError);
          const e = err as IsolateError;
          expect(e.code).to.equal('ERR_INVALID_OPTION');
          if ('cpuset' in limits) {
            expect(e.option).to.equal('cpuset.cpus');
            expect(e.message).to.equal(
              `\`cpuset.cpus\` names CPU 1, which the parent group does not allow: ${dirOf('cpuset')} has cpuset.cpus 0, and on cgroup v1 a group's CPUs must be among its parent's`,
            );
          } else {
            expect(e.option).to.equal('cpu.max');
            expect(e.message).to.include(`is more than the parent group allows: ${dirOf('cpu')} has 50000 µs per 100000 µs (0.5 CPU)`);
          }
        }
        // An update past the parent's is refused the same way, and leaves the limit in force.
        const cg = new CGroup({ cpus: 0.5, ...(twoCpus ? { cpuset: '0' } : {}) }, { parent }).create();
        try {
          expect(() => cg.update({ cpu: { max: { quotaUs: 50001 } } })).to.throw(IsolateError, /more than the parent group allows/);
          expect(cg.limits.cpu!.max).to.deep.equal({ quotaUs: 50000, periodUs: 100000 });
          expect(readFileSync(join(cg.paths.find((d) => d.startsWith(`${rootOf('cpu')}/`))!, 'cpu.cfs_quota_us'), 'utf8').trim()).to.equal('50000');
        } finally {
          await cg.destroy();
        }
        // Nothing was made for the refused ones (the parent's own directories aside).
        for (const r of roots()) _releaseOwnerMark(join(r, parent));
        expect(underBase().filter((d) => !d.endsWith(`:${BASE}`) && !d.endsWith(`:${parent}`))).to.deep.equal([]);
        return;
      }
      // v2: the kernel takes them and applies what the parent allows.
      for (const limits of over) {
        const cg = new CGroup(limits, { parent }).create();
        try {
          if ('cpuset' in limits) expect(readFileSync(join(cg.paths[0]!, 'cpuset.cpus.effective'), 'utf8').trim()).to.equal('0');
        } finally {
          await cg.destroy();
        }
      }
    });
  });

  describe('a filesystem path given as the parent', function () {
    it('should be refused, saying to give a cgroup path, without creating anything', function () {
      const m = readCgroupMounts();
      const mount = version() === 2 ? m.v2Mount! : m.v1.get('pids')!;
      for (const given of [`${mount}/isolate-kit/x`, `${mount.slice(1)}/isolate-kit/x`, `${mount}/`]) {
        const e = expectRefused(() => new CGroup({ pids: 8 }, { parent: given }), 'ERR_INVALID_OPTION');
        expect(e.message).to.include("a cgroup path like 'isolate-kit/jobs'").and.include(JSON.stringify(given));
        if (given.endsWith('/x')) expect(e.message).to.include('"isolate-kit/x"');
      }
      // The directory the v1 hierarchies are mounted in, too.
      if (m.v1Root) expectRefused(() => new CGroup({ pids: 8 }, { parent: `${m.v1Root}/isolate-kit` }), 'ERR_INVALID_OPTION');
      for (const r of roots()) expect(existsSync(join(r, mount)), join(r, mount)).to.equal(false);
      for (const r of roots()) expect(existsSync(join(r, mount.split('/')[1]!)), r).to.equal(false);
    });
  });

  describe('a name the kernel would not take for a group', function () {
    it('should be refused up front, naming the component, without creating anything', function () {
      for (const [given, why] of [
        [`${BASE}/a\nb`, 'holds a control character'],
        [`${BASE}/cgroup.procs`, "named like a cgroup's control file"],
        [`${BASE}/x/memory.max`, "named like a cgroup's control file"],
        [`${BASE}//x`, 'an empty component'],
        // A live container's group (its removal would kill what ran below it).
        [`isolate-kit/${new CGroup({}).name}`, "named like a container's group"],
      ] as const) {
        const e = expectRefused(() => new CGroup({ pids: 8 }, { parent: given }), 'ERR_INVALID_OPTION');
        expect(e.message).to.include(why);
        expect(e.option).to.equal('parent');
      }
      // '' is no name, whether or not the default parent is in use already
      // (it had been taken for the default once a default group was made).
      new CGroup({ pids: 8 });
      expectRefused(() => new CGroup({ pids: 8 }, { parent: '' }), 'ERR_INVALID_OPTION');
      for (const r of roots()) expect(existsSync(join(r, BASE, 'x')), r).to.equal(false);
    });

    it('should refuse bad limits before making a new parent', function () {
      const fresh = `${BASE}/fresh`;
      expect(() => new CGroup({ memory: '-1' }, { parent: fresh })).to.throw(IsolateError, /memory/).with.property('code', 'ERR_INVALID_OPTION');
      for (const r of roots()) expect(existsSync(join(r, fresh)), r).to.equal(false);
    });
  });
});
