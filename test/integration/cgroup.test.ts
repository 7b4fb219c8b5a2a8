/**
 * cgroups on a real kernel: every limit read back from inside the sandbox,
 * and enforced (OOM, fork bomb, CPU quota, cpuset, freezer, io throttle,
 * devices), with no group left behind. The same file runs on this v1/hybrid
 * host and, through ../shared/tools/vm-run, on a cgroup-v2-only kernel.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import { basename, dirname, join } from 'node:path';
import { expect } from 'chai';
import { CGroup, Container, IsolateError, gc, type CGroupLimits, type ContainerOptions, type RunResult } from '../../lib';
import { CGROUP_NAME_RE, existingParentDirs, hostTopology, processStartTime, readCgroupMounts, resetParents } from '../../lib/cgroup/host';
import { devNumbers } from '../../lib/cgroup/limits';
import { needCgroups, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX, descendantsOf, kill9, ourCgroups } from '../helpers/leaks';
import { _keptAccounting, _poolCounts, _setPoolEnabled, pooledCgroupDirs } from '../../lib/cgroup/pool';
import { _releaseOwnerMark, markState } from '../../lib/cgroup/owner';
import { _setFreezerLinger, freezerHoldDirs } from '../../lib/cgroup/freezer-hold';
import { native } from '../../lib/native';
import { testDisk, type TestDisk } from '../fixtures/disk';
import { PROBE, SOCKET_FILL, TINY_FILL, buildProbes, probeResults, type Probes } from '../fixtures/probes';
import { expectHugePagesLimited, withV1Hugetlb } from '../fixtures/huge-pages';
import { childrenOf, exists, markerProcesses, parentOf, processState, runFixture, sleepMarker, waitFor } from '../fixtures/procs';

const version = (): 1 | 2 => CGroup.version() as 1 | 2;

/**
 * A loop device over a temp file with one partition (an MBR written here:
 * no partitioning tool needed), its partition scanned (`losetup -P`).
 */
function partitionedLoop(): { disk: string; partition: string; release(): void } | 'none' | string {
  const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  const img = join(dir, 'disk.img');
  const mbr = Buffer.alloc(512);
  // One Linux partition (type 0x83) from sector 2048, 8 MiB long.
  mbr.writeUInt8(0x83, 446 + 4);
  mbr.writeUInt32LE(2048, 446 + 8);
  mbr.writeUInt32LE(16384, 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  writeFileSync(img, mbr);
  truncateSync(img, 16 * 1024 * 1024);
  const env = { ...process.env, PATH: `${process.env.PATH ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` };
  spawnSync('modprobe', ['loop'], { env });
  const r = spawnSync('losetup', ['--find', '--show', '--partscan', img], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true });
    return `no loop device with partitions (losetup: ${(r.stderr || r.error?.message || '').trim()})`;
  }
  const disk = r.stdout.trim();
  const release = () => {
    spawnSync('losetup', ['--detach', disk], { env });
    rmSync(dir, { recursive: true });
  };
  const partition = `${disk}p1`;
  for (let i = 0; i < 100 && !existsSync(partition); i++) spawnSync('sleep', ['0.02']);
  if (!existsSync(partition)) {
    release();
    return noPartitionTables() ? 'none' : `losetup --partscan made no ${partition}`;
  }
  return { disk, partition, release };
}

/** Whether this kernel was built without MBR and GPT partition tables (this project's v1 host: nothing there can be a partition). */
function noPartitionTables(): boolean {
  const r = spawnSync('sh', ['-c', 'zcat /proc/config.gz'], { encoding: 'utf8' });
  return r.status === 0 && /^# CONFIG_MSDOS_PARTITION is not set$/m.test(r.stdout) && /^# CONFIG_EFI_PARTITION is not set$/m.test(r.stdout);
}

/** Whether `fd` is open in this process. */
function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a host process has been sent SIGKILL: gone, dead, exiting
 * (PF_EXITING), or with SIGKILL pending (per thread or for the group).
 */
function killed(pid: number): boolean {
  let status: string, stat: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
  const pending = (name: string) => (BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`) & 0x100n) !== 0n;
  return state === 'Z' || state === 'X' || (flags & 0x4) !== 0 || pending('SigPnd') || pending('ShdPnd');
}

/** Live kernfs nodes (the kernel's objects for sysfs and cgroup files), from /proc/slabinfo; undefined where it cannot be read (not root). */
function kernfsNodes(): number | undefined {
  try {
    const line = readFileSync('/proc/slabinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('kernfs_node_cache '));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]);
  } catch {
    return undefined;
  }
}

/** Dentries the kernel holds (/proc/sys/fs/dentry-state, readable by anyone). */
function dentries(): number {
  return Number(readFileSync('/proc/sys/fs/dentry-state', 'utf8').split(/\s+/)[0]);
}

/** Where a cgroup file is inside the container (its group mounted read-only at /sys/fs/cgroup). */
function inside(controller: string, v1File: string, v2File: string): string {
  if (version() === 2) return `/sys/fs/cgroup/${v2File}`;
  const mount = readCgroupMounts().v1.get(controller);
  return `/sys/fs/cgroup/${basename(mount ?? controller)}/${v1File}`;
}

async function readInside(limits: CGroupLimits, files: string[]): Promise<string[]> {
  const r = await Container.run(['sh', '-c', files.map((f) => `cat ${f}`).join('; ')], { cgroup: limits });
  expect(r.stderr).to.equal('');
  expect(r.status).to.equal('ok');
  return r.stdout.trim().split('\n');
}

/** /sys/fs/cgroup inside: only the container's own groups, read-only, each the root of its hierarchy. */
async function expectOwnView(): Promise<void> {
  const r = await Container.run(
    ['sh', '-c', 'grep " /sys/fs/cgroup" /proc/self/mountinfo; echo --; find /sys/fs/cgroup -mindepth 1 -type d | sort; echo --; mkdir /sys/fs/cgroup/x 2>&1; { echo > /sys/fs/cgroup/y; } 2>&1; true'],
    { cgroup: { memory: '32M', pids: 16 } },
  );
  expect(r.status).to.equal('ok');
  const [mounts, dirs, writes] = r.stdout.split('--\n');
  const lines = mounts!.trim().split('\n');
  for (const l of lines) {
    const f = l.split(' ');
    expect(f[3], l).to.equal('/'); // the group is the root: no host path shows
    expect(f[5]!.split(',')[0], l).to.equal('ro');
  }
  if (version() === 2) {
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/ - cgroup2 /);
  } else {
    const cg = lines.filter((l) => / - cgroup /.test(l)).map((l) => l.split(' ')[4]);
    // (And hugetlb's, for the huge page limits a memory limit brings, where the host has a v1 hierarchy of it.)
    const joined = ['memory', 'pids', ...(readCgroupMounts().v1.has('hugetlb') ? ['hugetlb'] : [])];
    expect(cg).to.have.members(joined.map((c) => `/sys/fs/cgroup/${basename(readCgroupMounts().v1.get(c)!)}`));
    // No group of anyone else's: the hierarchies' directories (empty but for ours) and nothing below them.
    expect(dirs!.trim().split('\n').every((d) => d.split('/').length === 5)).to.equal(true);
  }
  expect(writes!.match(/Read-only file system/g)).to.have.length(2);
}

describe('CGroup on this kernel', function () {
  this.timeout(60_000);
  before(function () {
    needCgroups(this);
  });

  describe('limits, read back from inside the sandbox', function () {
    it('should apply memory, pids and cpus', async function () {
      const [mem, pids, cpu] = await readInside({ memory: '64M', pids: 32, cpus: 0.5 }, [
        inside('memory', 'memory.limit_in_bytes', 'memory.max'),
        inside('pids', 'pids.max', 'pids.max'),
        version() === 2 ? '/sys/fs/cgroup/cpu.max' : inside('cpu', 'cpu.cfs_quota_us', ''),
      ]);
      expect(mem).to.equal(String(64 * 1024 * 1024));
      expect(pids).to.equal('32');
      expect(cpu).to.equal(version() === 2 ? '50000 100000' : '50000');
    });

    it('should give each container its own limits when pooled groups have them written ahead', async function () {
      // Pooled groups are made per set of limit files, with the last taker's
      // values written ahead: sets twice in a row, other values, no limits
      // at all, reading back each time.
      const mem = inside('memory', 'memory.limit_in_bytes', 'memory.max');
      const pids = inside('pids', 'pids.max', 'pids.max');
      const unlimitedMem = version() === 2 ? 'max' : undefined;
      for (const [limits, want] of [
        [{ memory: '48M', pids: 24 }, [String(48 << 20), '24']],
        [{ memory: '48M', pids: 24 }, [String(48 << 20), '24']],
        [{ memory: '40M', pids: 20 }, [String(40 << 20), '20']],
        [{ memory: '40M', pids: 20 }, [String(40 << 20), '20']],
        [{}, [unlimitedMem, 'max']],
        [{ memory: '48M', pids: 24 }, [String(48 << 20), '24']],
        // other values for the same files: a ready group written for the last ones, written again
        [{ memory: '40M', pids: 20 }, [String(40 << 20), '20']],
        [{ memory: '48M', pids: 24 }, [String(48 << 20), '24']],
        [{ memory: '44M' }, [String(44 << 20), 'max']],
      ] as [CGroupLimits, (string | undefined)[]][]) {
        const got = await readInside(limits, [mem, pids]);
        if (want[0] === undefined) expect(Number(got[0])).to.be.above(2 ** 50); // v1's "unlimited": a page-rounded 2^63
        else expect(got[0], JSON.stringify(limits)).to.equal(want[0]);
        expect(got[1], JSON.stringify(limits)).to.equal(want[1]);
      }
    });

    it('should read limits given again as they came to before, each group with its own limits from then on', async function () {
      // recent-limits.ts keeps what plain limits came to (read, checked, with
      // the memory defaults): a later CGroup with the same limits takes them
      // shared and frozen; update() gives a group limits of its own.
      const given = { memory: '40M', pids: 30 };
      const a = new CGroup(given);
      given.pids = 31; // the caller's object, changed later: a's limits are a copy's
      const b = new CGroup({ memory: '40M', pids: 30 });
      expect(a.limits).to.deep.equal(b.limits);
      expect(a.limits.pids).to.equal(30);
      const mine = b.limits;
      mine.pids = 99; // a copy too
      expect(b.limits.pids).to.equal(30);
      await a.create();
      try {
        a.update({ pids: 25 });
        expect(a.limits.pids).to.equal(25);
        expect(b.limits.pids).to.equal(30);
        expect(new CGroup({ memory: '40M', pids: 30 }).limits.pids).to.equal(30);
        expect(readFileSync(join(a.paths.find((d) => existsSync(join(d, 'pids.max')))!, 'pids.max'), 'utf8').trim()).to.equal('25');
      } finally {
        await a.destroy();
      }
      // Bad limits are refused every time, kept ones or not.
      for (let i = 0; i < 2; i++) {
        expect(() => new CGroup({ memory: '40M', pids: -1 })).to.throw(IsolateError, /pids/);
        expect(() => new CGroup({ memory: '40M', pids: NaN })).to.throw(IsolateError, /pids/);
        expect(() => new CGroup({ memory: '40M', pids: 30 }, { parent: '../x' })).to.throw(IsolateError);
      }
      // And read back from inside, twice in a row.
      for (let i = 0; i < 2; i++) expect(await readInside({ memory: '40M', pids: 30 }, [inside('pids', 'pids.max', 'pids.max')])).to.deep.equal(['30']);
    });

    it('should write limits ahead in one native call that stops at the first file the kernel refuses', async function () {
      // pool.ts writes a ready group's limits with native().writeFiles.
      const cg = new CGroup({ pids: 10 }).create();
      try {
        const dir = cg.paths.find((p) => existsSync(join(p, 'pids.max')))!;
        const max = join(dir, 'pids.max');
        expect(native().writeFiles([max], ['7'])).to.equal(null);
        expect(readFileSync(max, 'utf8').trim()).to.equal('7');
        // A value the kernel refuses: its index and errno; what follows is not written.
        expect(native().writeFiles([max, max], ['-3', '9'])).to.deep.equal([0, 22 /* EINVAL */]);
        expect(readFileSync(max, 'utf8').trim()).to.equal('7');
        expect(native().writeFiles([max, join(dir, 'no-such-file')], ['8', '1'])).to.deep.equal([1, 2 /* ENOENT */]);
        expect(readFileSync(max, 'utf8').trim()).to.equal('8');
      } finally {
        await cg.destroy();
      }
    });

    it('should keep the group pool through a storm of signals (v1 refuses a limit write with EINTR while one is pending)', async function () {
      // The V8 profiler samples with SIGPROF, here every 10 µs. v1's
      // memory.limit_in_bytes and memsw's answer EINTR to a write made while
      // a signal is pending; writeFiles did not make it again, and the pool
      // took that for a refusal and stopped for the rest of the process
      // (every later start made its groups itself). A signal now costs the
      // write one more try, and a failure that may pass is not for good.
      const session = new Session();
      session.connect();
      const post = (method: string, params?: object) =>
        new Promise<void>((resolve, reject) => session.post(method, params ?? {}, (err) => (err ? reject(err) : resolve())));
      const limits = { memory: '48M', pids: 24 };
      await Container.run(['true'], { cgroup: limits }); // a pool for these limits
      await new Promise((r) => setImmediate(r)); // and its refill
      let before = _poolCounts();
      await post('Profiler.enable');
      // (Every 200 µs in the v2 VM, whose emulated CPU is ~20× slower: v2's
      // memory.max never answers EINTR, and the test there is of the pool.)
      await post('Profiler.setSamplingInterval', { interval: version() === 2 ? 200 : 10 });
      await post('Profiler.start');
      try {
        // Native writes straight away: 600 limits written under the storm.
        const cg = new CGroup({ memory: '64M' }).create();
        try {
          const dir = cg.paths.find((p) => existsSync(join(p, version() === 2 ? 'memory.max' : 'memory.limit_in_bytes')))!;
          const file = join(dir, version() === 2 ? 'memory.max' : 'memory.limit_in_bytes');
          for (let i = 0; i < 600; i++) expect(native().writeFiles([file], [String((63 + (i % 2)) << 20)])).to.equal(null);
        } finally {
          await cg.destroy();
        }
        before = _poolCounts(); // (that group's taking counts as a miss: its limits had no pool)
        const runs = version() === 2 ? 40 : 300;
        for (let i = 0; i < runs; i++) expect((await Container.run(['true'], { network: 'host', cgroup: limits })).status).to.equal('ok');
      } finally {
        await post('Profiler.stop').catch(() => undefined);
        session.disconnect();
      }
      const after = _poolCounts();
      expect(after.refillsFailed - before.refillsFailed, 'refills that failed').to.equal(0);
      expect(after.missed - before.missed, 'starts that found no ready group').to.equal(0);
    });

    it("should reach groups from their parent's directory held open, and from a parent removed and made again", async function () {
      const parent = 'isolate-kit/held-parent-test';
      const n = native();
      const held = () => n.cgroupDirFds().map((fd) => readlinkSync(`/proc/self/fd/${fd}`));
      const runIn = async () => {
        const cg = new CGroup({ pids: 12 }, { parent });
        try {
          const r = await Container.run(['cat', inside('pids', 'pids.max', 'pids.max')], { cgroup: cg });
          expect(r.status).to.equal('ok');
          expect(r.stdout.trim()).to.equal('12');
        } finally {
          await cg.destroy();
        }
      };
      // Without the pool: no kept accounting group in the parent, which can then be removed.
      _setPoolEnabled(false);
      try {
        await runIn();
        const dirs = existingParentDirs(parent);
        expect(dirs).to.not.be.empty;
        for (const d of dirs) expect(held()).to.include(d);
        const before = n.cgroupDirFds().length;
        // Removed and prepared anew: the new directories are held (the old fds stay).
        for (const d of dirs) _releaseOwnerMark(d);
        for (const d of dirs) rmdirSync(d);
        resetParents();
        await runIn();
        expect(n.cgroupDirFds().length).to.equal(before + dirs.length);
        for (const d of dirs) expect(held()).to.include(d).and.to.include(`${d} (deleted)`);
      } finally {
        _setPoolEnabled(undefined);
        resetParents();
        for (const d of existingParentDirs(parent)) _releaseOwnerMark(d);
        for (const d of existingParentDirs(parent)) rmdirSync(d);
      }
    });

    it('should walk the whole path where a held directory was removed and made again', function () {
      // The mechanism alone, on a plain directory: calls through the stale fd fail (ENOENT) and are made by path.
      const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
      try {
        const n = native();
        expect(n.cgroupDirs([dir])).to.deep.equal([0]);
        rmdirSync(dir);
        mkdirSync(dir);
        expect(n.mkdirs([join(dir, 'a')])).to.equal(null);
        expect(existsSync(join(dir, 'a'))).to.equal(true);
        expect(n.writeFiles([join(dir, 'a', 'f')], ['x'])).to.deep.equal([0, 2 /* ENOENT: not created */]);
        writeFileSync(join(dir, 'a', 'f'), 'hello');
        expect(n.readFiles([join(dir, 'a', 'f')])).to.deep.equal(['hello']);
        const [fd] = n.openFiles([join(dir, 'a', 'f')], 'r');
        expect(fd).to.be.at.least(0);
        n.closeFds([fd!]);
        rmSync(join(dir, 'a', 'f'));
        expect(n.rmdirs([join(dir, 'a')])).to.deep.equal([0]);
        expect(existsSync(join(dir, 'a'))).to.equal(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('should apply the structured forms: memory { max, low, swapMax }, cpu { max, weight }', async function () {
      const limits: CGroupLimits = {
        memory: { max: '1.5G', low: '16M' },
        cpu: { max: { quotaUs: 20000, periodUs: 50000 }, weight: 200 },
      };
      const files =
        version() === 2
          ? ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.low', '/sys/fs/cgroup/cpu.max', '/sys/fs/cgroup/cpu.weight']
          : [
              inside('memory', 'memory.limit_in_bytes', ''),
              inside('memory', 'memory.soft_limit_in_bytes', ''),
              inside('cpu', 'cpu.cfs_quota_us', ''),
              inside('cpu', 'cpu.shares', ''),
            ];
      const out = await readInside(limits, files);
      expect(out[0]).to.equal(String(1.5 * 1024 ** 3));
      expect(out[1]).to.equal(String(16 * 1024 ** 2));
      // cpu.shares from weight 200 as runc converts it: 2 + (199 * 262142) / 9999
      expect(out.slice(2)).to.deep.equal(version() === 2 ? ['20000 50000', '200'] : ['20000', String(Math.floor(2 + (199 * 262142) / 9999))]);
    });

    it('should pin to a cpuset', async function () {
      const r = await Container.run(['sh', '-c', `grep Cpus_allowed_list /proc/self/status; cat ${inside('cpuset', 'cpuset.cpus', 'cpuset.cpus')}`], {
        cgroup: { cpuset: '0' },
      });
      expect(r.stdout).to.match(/^Cpus_allowed_list:\s+0\n0\n$/);
    });

    it("should share one CPU share among the parent's sandboxes, a group without a cpu limit in the parent's cpu group (v1)", async function () {
      // Seen from the host: where the payload is, hierarchy by hierarchy.
      const placed = async (limits: CGroupLimits): Promise<Map<string, string>> => {
        const c = new Container({ cgroup: limits });
        try {
          const p = c.spawn(['sleep', '100'], { stdio: 'ignore' });
          await new Promise((resolve) => p.once('spawn', () => resolve(undefined)));
          const payload = readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim();
          const lines = readFileSync(`/proc/${payload}/cgroup`, 'utf8').trim().split('\n');
          return new Map(lines.map((l) => l.split(':')).map(([, ctl, path]) => [ctl!, path!]));
        } finally {
          await c.destroy();
        }
      };
      const plain = await placed({ memory: '32M' });
      const limited = await placed({ memory: '32M', cpus: 0.5 });
      if (version() === 2) {
        // One hierarchy: every group is below the parent already.
        expect(dirname(plain.get('')!)).to.equal(dirname(limited.get('')!));
        return;
      }
      const mounts = readCgroupMounts();
      const cpu = [...plain.keys()].find((k) => k.split(',').includes('cpu'));
      skipUnless(this, cpu !== undefined ? null : 'no v1 cpu hierarchy on this host');
      const group = plain.get('memory')!;
      if (mounts.v1.get('cpu') === mounts.v1.get('cpuacct')) {
        // cpu,cpuacct in one hierarchy: the group's cpuacct directory is below the parent there.
        expect(dirname(plain.get(cpu!)!)).to.equal(dirname(group));
      } else {
        expect(plain.get(cpu!), 'no cpu limit: the parent').to.equal(dirname(group));
      }
      expect(limited.get(cpu!), 'a cpu limit: its own directory').to.equal(limited.get('memory'));
    });

    it('should show the container its own group as the cgroup root', async function () {
      const r = await Container.run(['cat', '/proc/self/cgroup'], { cgroup: {} });
      for (const line of r.stdout.trim().split('\n')) expect(line, line).to.match(/:\/$/);
    });

    // The group's files are root's. A payload mounting the cgroup filesystem
    // in user and cgroup namespaces of its own sees its group as the root,
    // writable if it is uid 0: the user-namespace filter stops that.
    // Unconfined, nobody may mount it (where the host allows user
    // namespaces) but not write.
    it('should not let the payload raise its own limit through a cgroup mount of its own, as uid 0 or nobody', async function () {
      const built = buildProbes();
      skipUnless(this, typeof built === 'string' ? built : null);
      const probe = built as Probes;
      const limit = inside('memory', 'memory.limit_in_bytes', 'memory.max');
      try {
        for (const options of [{ user: { uid: 0 } }, {}, { seccomp: 'unconfined' as const }]) {
          const r = await Container.run(['sh', '-c', `mkdir /tmp/m && ${PROBE} cgroup ${version()} /tmp/m; echo limit $(cat ${limit})`], {
            cgroup: { memory: '64M' },
            mounts: [probe.mount],
            ...options,
          });
          expect(r.status, r.stderr).to.equal('ok');
          const got = probeResults(r.stdout);
          if (options.seccomp) expect(got.write ?? 'not reached').to.not.equal('ok');
          else expect(got.unshare).to.equal('EPERM');
          expect(got.limit, JSON.stringify(options)).to.equal(String(64 * 1024 * 1024));
        }
      } finally {
        probe.release();
      }
    });

    it('should raise a limit live with update()', async function () {
      const c = new Container({ cgroup: { pids: 4 } });
      try {
        await c.start();
        const file = inside('pids', 'pids.max', 'pids.max');
        // 8 sleeps cannot all start under pids.max 4…
        const before = await c.run(['sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait']);
        expect(before.status).to.not.equal('ok');
        expect(before.stderr).to.match(/fork/i);
        expect((await c.run(['cat', file])).stdout.trim()).to.equal('4');
        c.update({ pids: 64 });
        const after = await c.run(['sh', '-c', `for i in 1 2 3 4 5 6 7 8; do sleep 0.1 & done; wait && cat ${file}`]);
        expect(after.status).to.equal('ok');
        expect(after.stdout.trim()).to.equal('64');
        expect(c.cgroup!.limits.pids).to.equal(64);
      } finally {
        await c.destroy();
      }
    });

    // On v1 a group joins only the hierarchies its limits need; update() of
    // a limit it was made without used to be ERR_UNSUPPORTED there (a v2
    // group has every controller): it now joins that hierarchy, moving the
    // processes already running in.
    it('should add a limit the group was made without (cpuset, cpus, devices) to processes already running', async function () {
      const c = new Container({ cgroup: { memory: '64M' } });
      try {
        await c.start();
        const spinner = c.exec(['sh', '-c', 'echo $$ > /tmp/spinner.pid; while :; do :; done'], { stdio: 'ignore' });
        for (let i = 0; i < 100 && (await c.run(['cat', '/tmp/spinner.pid'])).stdout.trim() === ''; i++) await new Promise((r) => setTimeout(r, 20));
        c.update({ cpuset: '1', cpus: 0.25, devices: ['c 1:3 rwm'] });
        expect(c.cgroup!.limits).to.deep.include({ cpuset: { cpus: '1' }, cpu: { max: { quotaUs: 25_000, periodUs: 100_000 } } });
        // The spinner, started before, is pinned and throttled now; a new process too.
        const seen = await c.run(['sh', '-c', 'grep Cpus_allowed_list /proc/$(cat /tmp/spinner.pid)/status /proc/self/status | cut -f2']);
        expect(seen.stdout.trim().split('\n')).to.deep.equal(['1', '1']);
        const t0 = c.stats().cpu.usageUsec;
        await new Promise((r) => setTimeout(r, 600));
        const used = c.stats().cpu.usageUsec - t0;
        expect(used, 'CPU µs in 600 ms under cpus: 0.25').to.be.within(60_000, 250_000);
        expect(c.stats().cpu.throttledUsec).to.be.above(0);
        // devices: /dev/null only now.
        const dev = await c.run(['sh', '-c', 'echo x > /dev/null && echo null-ok; head -c 1 /dev/zero > /dev/null || echo zero-refused']);
        expect(dev.stdout).to.equal('null-ok\nzero-refused\n');
        expect(dev.stderr).to.match(/Operation not permitted/);
        spinner.kill('SIGKILL');
      } finally {
        await c.destroy();
      }
    });
  });

  describe('enforcement', function () {
    it("should OOM-kill a memory hog and report status 'oom' with a plausible peak and an 'oom' event", async function () {
      const c = new Container({ cgroup: { memory: '32M' } });
      let events = 0;
      c.on('oom', () => events++);
      try {
        const r = await c.run(['sh', '-c', 'x=$(head -c 200M /dev/zero | tr "\\0" a); echo survived']);
        expect(r.status).to.equal('oom');
        expect(r.oomKilled).to.equal(true);
        expect(r.limit).to.equal('memory');
        expect(r.stdout).to.not.include('survived');
        expect(r.memoryPeakBytes).to.be.within(24 * 1024 * 1024, 33 * 1024 * 1024);
        expect(events).to.be.at.least(1);
        expect(c.stats().memory.oomKills).to.be.at.least(1);
      } finally {
        await c.destroy();
      }
    });

    // On v1 the eventfd fires as the group enters OOM, before the kill is
    // counted: the event used to wait for some later read of the count (the
    // container's end), so a long-lived container's listener heard nothing.
    it("should emit 'oom' while a started container runs, for a hog exec'd in it, with no read of its own", async function () {
      const c = new Container({ cgroup: { memory: '32M' } });
      try {
        const heard = new Promise<number>((resolve) => c.once('oom', resolve));
        await c.start();
        const r = await c.run(['sh', '-c', 'x=$(head -c 200M /dev/zero | tr "\\0" a); echo survived']);
        expect(r.status).to.equal('oom');
        const kills = await Promise.race([heard, new Promise<string>((res) => setTimeout(() => res('no oom event within 3 s'), 3000))]);
        // (The kills counted by then: the OOM killer may have taken two of the pipeline before the event is read.)
        expect(kills).to.be.a('number').and.at.least(1);
        expect(c.state).to.equal('running');
      } finally {
        await c.destroy();
      }
    });

    // Left at the kernel's default, a group may swap without bound: under
    // memory '32M' a payload held 128 MiB (96 swapped out), status 'ok', a
    // peak of 32M, and one container could fill the host's swap.
    it('should give a memory limit no swap unless swapMax says so (read back inside; with swap on, a hog is OOM-killed, not swapped)', async function () {
      this.timeout(300_000);
      const MiB = 1024 * 1024;
      const v1 = version() === 1;
      const swapFile = v1 ? '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes' : '/sys/fs/cgroup/memory.swap.max';
      const counted = existsSync(v1 ? '/sys/fs/cgroup/memory/isolate-kit/memory.memsw.limit_in_bytes' : '/sys/fs/cgroup/isolate-kit/memory.swap.max');
      const none = new CGroup({ memory: '32M' });
      const some = new CGroup({ memory: { max: '32M', swapMax: '16M' } });
      if (!counted) {
        // This kernel does not count swap (v1 without swapaccount=1): nothing to set.
        expect(none.limits.memory).to.include({ max: 32 * MiB }).and.not.have.property('swapMax');
        return;
      }
      // (and no huge pages, on v2: the next test)
      expect(none.limits.memory).to.include({ max: 32 * MiB, swapMax: 0 });
      const read = async (cgroup: CGroup) => (await Container.run(['cat', swapFile], { cgroup })).stdout.trim();
      expect(await read(none)).to.equal(v1 ? String(32 * MiB) : '0');
      expect(await read(some)).to.equal(v1 ? String(48 * MiB) : String(16 * MiB));

      // Behaviour needs swap. The throwaway VM (ISOLATE_KIT_VM=1, test/vm)
      // turns some on; on a host without any, nothing can be swapped anyway.
      const active = () => readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
      let loop: string | undefined;
      if (!active() && process.env.ISOLATE_KIT_VM === '1') {
        const img = join(tmpdir(), `isolate-kit-swap-${process.pid}.img`);
        expect(spawnSync('dd', ['if=/dev/zero', `of=${img}`, 'bs=1M', 'count=256']).status).to.equal(0);
        spawnSync('modprobe', ['loop']);
        loop = spawnSync('losetup', ['-f', '--show', img], { encoding: 'utf8' }).stdout.trim();
        expect(spawnSync('mkswap', [loop]).status).to.equal(0);
        expect(spawnSync('swapon', [loop]).status).to.equal(0);
      }
      try {
        if (!active()) return;
        const hog = (mib: number) => ['python3', '-c', `b = bytearray(${mib} << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint("held ${mib} MiB")`];
        const r = await Container.run(hog(96), { cgroup: { memory: '32M' }, timeout: '100s' });
        expect(r.status, r.stdout + r.stderr).to.equal('oom');
        // Asked for, swap is there (and slow under emulation: a smaller hog).
        const swapping = await Container.run(hog(64), { cgroup: { memory: { max: '32M', swapMax: 'max' } }, timeout: '100s' });
        expect(swapping.status, swapping.stderr).to.equal('ok');
        expect(swapping.stdout).to.equal('held 64 MiB\n');
      } finally {
        if (loop) {
          spawnSync('swapoff', [loop]);
          spawnSync('losetup', ['-d', loop]);
          rmSync(join(tmpdir(), `isolate-kit-swap-${process.pid}.img`), { force: true });
        }
      }
    });

    // memory.max does not count huge pages: under memory '32M' a payload
    // took 180 MiB of a host's 200 MiB pool, reserved for other programs.
    it('should give a memory limit no huge pages unless hugetlbMax says so (read back inside; with a pool, mapping them is refused until update() allows some)', async function () {
      this.timeout(300_000);
      const sizes = hostTopology().hugePages ?? [];
      skipUnless(this, sizes.length > 0 ? null : 'the kernel has no huge pages');
      if (version() === 2) {
        skipUnless(this, existsSync('/sys/fs/cgroup/isolate-kit/hugetlb.2MB.max') ? null : 'no hugetlb controller for /sys/fs/cgroup/isolate-kit, or no 2 MiB pages');
        // A pool to take from: the throwaway VM (ISOLATE_KIT_VM=1, test/vm) makes one.
        skipUnless(this, await expectHugePagesLimited(process.env.ISOLATE_KIT_VM === '1' ? 16 : 0));
        return;
      }
      if (readCgroupMounts().v1.has('hugetlb')) {
        skipUnless(this, await expectHugePagesLimited(0));
        return;
      }
      // No v1 hierarchy of it here: no default, and asking for a limit is
      // refused up front, saying why ('max' asks for nothing).
      expect(new CGroup({ memory: '32M' }).limits.memory).to.not.have.property('hugetlbMax');
      expect(() => new CGroup({ memory: { max: '32M', hugetlbMax: '8M' } }))
        .to.throw(IsolateError, /^The hugetlb cgroup controller is not available on this host: /)
        .with.property('option', 'memory.hugetlbMax');
      expect(new CGroup({ memory: { max: '32M', hugetlbMax: 'max' } }).limits.memory!.hugetlbMax).to.deep.equal(Object.fromEntries(sizes.map((s) => [s.name, null])));
      // The layout most hybrid hosts have: a v1 hugetlb hierarchy, mounted
      // for this test where the controller sits unused on the cgroup2 mount
      // (this project's host), with a pool of 8 pages while it runs (put
      // back after). In a process of its own: this one has read the mount
      // table already.
      const out = await withV1Hugetlb(async () => {
        const r = spawnSync(process.execPath, [join(__dirname, '..', 'fixtures', 'huge-pages.js'), '8'], { encoding: 'utf8', timeout: 240_000 });
        expect(r.status, r.stderr).to.equal(0);
        return JSON.parse(r.stdout) as { missed: string | null };
      });
      skipUnless(this, typeof out === 'string' ? out : out.missed);
    });

    it('should say when a memory limit is too small for setup, or a pids limit leaves no room, naming the limit', async function () {
      const tiny = await Container.run(['true'], { cgroup: { memory: 4096 } });
      expect(tiny.status).to.equal('error');
      expect(tiny.error).to.include({ code: 'ERR_SETUP_FAILED', option: 'memory' });
      expect(tiny.error!.message).to.match(/OOM killer .* memory limit of 4096 bytes is too small/);
      const one = await Container.run(['true'], { cgroup: { pids: 1 } });
      expect(one.status).to.equal('error');
      expect(one.error!.message).to.match(/EAGAIN.*pids limit \(1\) leaves no room/);
      // A 'major:minor' the kernel has no block device for: refused up front, not at start.
      expect(() => new CGroup({ io: { max: [{ device: '4095:1048575', rbps: '1M' }] } }))
        .to.throw(IsolateError, /`io.max\[0\].device`: 4095:1048575 is not a block device on this host/)
        .with.property('option', 'io.max[0].device');
    });

    it('should refuse io limits on a partition up front (the kernel throttles whole disks: ENODEV after the group was made)', async function () {
      const part = partitionedLoop();
      // A kernel that reads no partition table has no partition to refuse (the cgroup-v2 VM's has, and runs this).
      if (part === 'none') return;
      skipUnless(this, typeof part === 'string' ? part : null);
      const { disk, partition, release } = part as Exclude<typeof part, string>;
      try {
        const [major, minor] = devNumbers(statSync(partition).rdev);
        const [dMajor, dMinor] = devNumbers(statSync(disk).rdev);
        for (const device of [partition, `${major}:${minor}`]) {
          expect(() => new CGroup({ io: { max: [{ device, rbps: '1M' }] } }))
            .to.throw(
              IsolateError,
              `\`io.max[0].device\`: ${device} (${major}:${minor}) is a partition, and the kernel throttles whole disks only: give its disk, ${disk} (${dMajor}:${dMinor})`,
            )
            .with.property('option', 'io.max[0].device');
        }
        // Its disk is taken, and the kernel takes it too; the partition it would not (what the check spares).
        const cg = new CGroup({ io: { max: [{ device: disk, rbps: '1M' }] } }).create();
        try {
          const [dir, file] = version() === 2 ? [cg.paths[0]!, 'io.max'] : [cg.paths.find((p) => p.includes('blkio'))!, 'blkio.throttle.read_bps_device'];
          const line = version() === 2 ? `${major}:${minor} rbps=1048576` : `${major}:${minor} 1048576`;
          expect(() => writeFileSync(join(dir, file), line)).to.throw(/ENODEV/);
        } finally {
          await cg.destroy();
        }
      } finally {
        release();
      }
    });

    // tmpfs pages are charged to the group but mapped by no process: with a
    // culprit of a few pages, init (~400 KiB) was the biggest process, the
    // OOM killer took it, and the started container ended under its tenants.
    it('should OOM-kill the processes, not init, when one fills tmpfs with a tiny resident set, and keep the container', async function () {
      const built = buildProbes();
      skipUnless(this, typeof built === 'string' ? built : null);
      const probe = built as Probes;
      try {
        const c = new Container({ cgroup: { memory: '32M' }, mounts: [probe.mount] });
        try {
          await c.start();
          const adj = await c.run(['sh', '-c', 'cat /proc/self/oom_score_adj /proc/1/oom_score_adj']);
          expect(adj.stdout.split('\n').slice(0, 2)).to.deep.equal(['1000', readFileSync('/proc/self/oom_score_adj', 'utf8').trim()]);
          // Set while init's child held CAP_SYS_RESOURCE (where this host's root has it), 1000 is also its floor.
          const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
          const sysResource = ((BigInt(`0x${capEff}`) >> 24n) & 1n) === 1n;
          const lowered = await c.run(['sh', '-c', 'echo 0 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj']);
          expect(lowered.stdout.trim()).to.equal(sysResource ? '1000' : '0');
          const other = c.exec(['sleep', '60'], { stdio: 'ignore' });
          const r = await c.run([TINY_FILL, '/tmp/fill']);
          expect(r.status, r.stdout + r.stderr).to.equal('oom');
          expect(r.oomKilled).to.equal(true);
          expect(r.limit).to.equal('memory');
          await new Promise((res) => setTimeout(res, 100));
          expect(c.state).to.equal('running');
          other.kill('SIGKILL');
          // Its file still holds the group at its limit: with room to remove it, the container works again.
          c.update({ memory: '64M' });
          const after = await c.run(['sh', '-c', 'rm /tmp/fill && echo ok']);
          expect(after.stdout, after.stderr).to.equal('ok\n');
        } finally {
          await c.destroy();
        }
      } finally {
        probe.release();
      }
    });

    // Socket buffers are kernel memory the process does not map: v2 charges
    // them to memory.current; v1 only once memory.kmem.tcp.limit_in_bytes
    // is written, and before it was, 64M held 2.2 GB in TCP queues.
    it('should hold TCP and UDP socket buffers a payload never reads to its memory limit', async function () {
      const built = buildProbes();
      skipUnless(this, typeof built === 'string' ? built : null);
      const probe = built as Probes;
      const tcpLimit = inside('memory', 'memory.kmem.tcp.limit_in_bytes', 'memory.max');
      const v1Limit = version() === 1 && existsSync(`${readCgroupMounts().v1.get('memory')}/memory.kmem.tcp.limit_in_bytes`);
      try {
        const c = new Container({ cgroup: { memory: '64M' }, mounts: [probe.mount] });
        try {
          await c.start();
          for (const proto of ['tcp', 'udp']) {
            // Up to 256 MiB taken, in 1000 sockets at most (unlimited, TCP holds ~300 MB).
            const r = await c.run([SOCKET_FILL, proto, '256']);
            // v2 may OOM-kill it instead: the buffers are in memory.current.
            expect(r.status, r.stderr).to.be.oneOf(version() === 2 ? ['ok', 'oom'] : ['ok']);
            // The limit, and a few KiB per socket the kernel lets past it (docs/cgroups.md).
            if (r.status === 'ok') expect(Number(r.stdout.split(' ')[1]), `${proto}: ${r.stdout}`).to.be.below(96 * 1024 * 1024);
          }
          if (v1Limit) expect((await c.run(['cat', tcpLimit])).stdout.trim()).to.equal(String(64 * 1024 * 1024));
          // Raised live, the socket limit follows.
          c.update({ memory: '128M' });
          if (v1Limit) expect((await c.run(['cat', tcpLimit])).stdout.trim()).to.equal(String(128 * 1024 * 1024));
        } finally {
          await c.destroy();
        }
      } finally {
        probe.release();
      }
    });

    it('should stop a fork bomb at pids.max and keep the host responsive', async function () {
      let ticks = 0;
      const tick = setInterval(() => ticks++, 10);
      try {
        const c = new Container({ cgroup: { pids: 20 } });
        try {
          await c.start();
          const bomb = c.exec(['sh', '-c', 'b() { b | b & }; b 2>/dev/null'], { stdio: 'ignore' });
          await new Promise((r) => setTimeout(r, 1000));
          const s = c.stats();
          expect(s.pids!.current).to.be.at.most(20);
          expect(ticks, 'the event loop kept running').to.be.above(20);
          bomb.killTree('SIGKILL');
        } finally {
          await c.destroy();
        }
      } finally {
        clearInterval(tick);
      }
    });

    it('should hold a spinner to about a quarter of a CPU under cpus: 0.25', async function () {
      const r = await Container.run(['sh', '-c', 'while :; do :; done'], { cgroup: { cpus: 0.25 }, timeout: '1500ms' });
      expect(r.status).to.equal('timeout');
      const share = r.cpuTimeMs! / r.wallTimeMs;
      expect(share, `CPU share ${share.toFixed(3)}`).to.be.within(0.12, 0.36);
    });

    it("should end a run at its cpuTime budget (status 'timeout', limit 'cpuTime')", async function () {
      const r = await Container.run(['sh', '-c', 'while :; do :; done'], { cpuTime: '200ms', timeout: '10s' });
      expect(r.status).to.equal('timeout');
      expect(r.limit).to.equal('cpuTime');
      expect(r.timedOut).to.equal(true);
      expect(r.cpuTimeMs).to.be.within(200, 400);
    });

    it("should kill every process of the run's own group at a run limit, not wait for init to run (a payload's spinners starve it)", async function () {
      // A payload with a thousand runnable processes, each its own session,
      // left init, one task of a thousand in the group's CPU share, a
      // thousandth of it: its tree walk, then its exit, each waited a second, every
      // process spinning meanwhile (cpuTime 2 s ended at 5.8 s of CPU). Here
      // the test stops init itself, which is what that amounts to: the
      // limit's kill must be carried out without it, at once, on every
      // process of the group, the one that left the tree and the group's
      // session (setsid) too.
      const marker = sleepMarker();
      const c = new Container({ cgroup: { pids: 64 } });
      const ac = new AbortController();
      const run = c.run(['sh', '-c', `setsid sleep ${marker} & sleep ${marker} & wait`], { signal: ac.signal });
      try {
        expect(await waitFor(() => markerProcesses(marker).length === 2, 10_000), 'payload started').to.equal(true);
        const pids = [c.pid!, ...c.cgroup!.procs().filter((p) => p !== c.pid)];
        process.kill(c.pid!, 'SIGSTOP');
        ac.abort(); // the run's kill, as at its timeout or cpuTime: synchronous
        for (const pid of pids) expect(killed(pid), `pid ${pid} (${processState(pid)}) killed`).to.equal(true);
      } finally {
        await run.catch(() => undefined);
        await c.destroy();
      }
      expect(markerProcesses(marker)).to.deep.equal([]);
    });

    // Not in a group of its own (a caller's shared one, or none), the same
    // kill found the container's processes by their pid namespace and
    // left the group's other members alone; init (stopped here) is spared
    // to report the command's end, and goes at the second's fallback.
    for (const kind of ['shared', 'none'] as const) {
      it(`should kill every process of the container's pid namespace at a main command's run limit, init spared, with ${kind === 'shared' ? "a caller's shared group (its other members left alone)" : 'no group'}`, async function () {
        const marker = sleepMarker();
        const bystander = sleepMarker();
        const cg = kind === 'shared' ? new CGroup({ pids: 64 }).create() : undefined;
        const other = new Container({ cgroup: cg });
        const c = new Container({ cgroup: cg });
        const ac = new AbortController();
        let run: Promise<RunResult> | undefined;
        try {
          await other.start();
          other.exec(['sleep', bystander], { stdio: 'ignore' });
          run = c.run(['sh', '-c', `setsid sleep ${marker} & sleep ${marker} & wait`], { signal: ac.signal });
          expect(await waitFor(() => markerProcesses(marker).length === 2 && markerProcesses(bystander).length === 1, 10_000), 'payloads started').to.equal(true);
          const init = c.pid!;
          const pids = [...markerProcesses(marker), ...childrenOf(init)];
          process.kill(init, 'SIGSTOP');
          ac.abort(); // the run's kill, as at its timeout or cpuTime: synchronous
          for (const pid of new Set(pids)) expect(killed(pid), `pid ${pid} (${processState(pid)}) killed`).to.equal(true);
          expect(killed(init), 'init spared (it reports the end)').to.equal(false);
          expect(markerProcesses(bystander), "the other container's process").to.have.lengthOf(1);
          expect((await run.catch((e: Error) => e)) instanceof Error, 'the run settles').to.equal(true);
          expect(markerProcesses(marker)).to.deep.equal([]);
        } finally {
          if (c.pid !== undefined) process.kill(c.pid, 'SIGCONT');
          await run?.catch(() => undefined);
          await c.destroy();
          await other.destroy();
          cg?.destroy();
        }
      });
    }

    it("should kill an exec'd command's tree at its run limit from here, init starved, and leave the container's other processes", async function () {
      // The tree (a child, and one in the command's process group that left
      // the tree) is stopped and killed from the Node process; init, stopped
      // here, would have done it only once it ran.
      const marker = sleepMarker();
      const bystander = sleepMarker();
      const c = new Container({ cgroup: { pids: 64 } });
      const ac = new AbortController();
      let run: Promise<RunResult> | undefined;
      try {
        await c.start();
        c.exec(['sleep', bystander], { stdio: 'ignore' });
        run = c.run(['sh', '-c', `sleep ${marker} & (sh -c 'sleep ${marker}' &) ; wait`], { signal: ac.signal });
        expect(await waitFor(() => markerProcesses(marker).length === 2 && markerProcesses(bystander).length === 1, 10_000), 'payloads started').to.equal(true);
        const init = c.pid!;
        const pids = markerProcesses(marker);
        const tree = new Set(pids.flatMap((p) => [p, ...childrenOf(p)]));
        for (const p of pids) tree.add(parentOf(p)!); // the command's sh, or init for the orphan
        tree.delete(init);
        expect(tree.size, `the tree ${[...tree].join(' ')}`).to.be.at.least(3);
        process.kill(init, 'SIGSTOP');
        ac.abort();
        for (const pid of tree) expect(killed(pid), `pid ${pid} (${processState(pid)}) killed`).to.equal(true);
        expect(killed(init), 'init').to.equal(false);
        expect(markerProcesses(bystander), "the container's other process").to.have.lengthOf(1);
        process.kill(init, 'SIGCONT');
        expect((await run.catch((e: Error) => e)) instanceof IsolateError, 'the run settles (aborted)').to.equal(true);
        expect(c.state, 'the container goes on').to.equal('running');
        expect(markerProcesses(marker)).to.deep.equal([]);
      } finally {
        if (c.pid !== undefined) process.kill(c.pid, 'SIGCONT');
        await run?.catch(() => undefined);
        await c.destroy();
      }
    });

    it("should kill every process of a container in a caller's shared group at kill(), from here and at once, and none of the group's others", async function () {
      // Left to init's exit (which the kernel carries out in init, when it
      // next runs), a starved init held the kill up while the rest ran.
      // Here init is starved: SCHED_IDLE on one CPU beside a spinner of ours.
      const marker = sleepMarker();
      const bystander = sleepMarker();
      const cg = new CGroup({ pids: 64 }).create();
      const other = new Container({ cgroup: cg });
      const c = new Container({ cgroup: cg });
      let spinner: ReturnType<typeof spawn> | undefined;
      try {
        await other.start();
        other.exec(['sleep', bystander], { stdio: 'ignore' });
        await c.start();
        c.exec(['sh', '-c', `setsid sleep ${marker} & sleep ${marker} & wait`], { stdio: 'ignore' });
        expect(await waitFor(() => markerProcesses(marker).length === 2 && markerProcesses(bystander).length === 1, 10_000), 'payloads started').to.equal(true);
        const pids = [c.pid!, ...markerProcesses(marker), ...childrenOf(c.pid!)];
        spinner = spawn('taskset', ['-c', '0', 'sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
        const spinning = () => readFileSync(`/proc/${spinner!.pid}/cmdline`, 'utf8').includes('while') && processState(spinner!.pid!) === 'R';
        expect(await waitFor(spinning, 5000), 'spinner running').to.equal(true);
        expect(spawnSync('taskset', ['-p', '-c', '0', String(c.pid)]).status, 'init pinned').to.equal(0);
        expect(spawnSync('chrt', ['-i', '-p', '0', String(c.pid)]).status, 'init at SCHED_IDLE').to.equal(0);
        expect(c.kill()).to.equal(true);
        for (const pid of new Set(pids)) expect(killed(pid), `pid ${pid} (${processState(pid)}) killed`).to.equal(true);
        expect(markerProcesses(bystander), "the other container's process").to.have.lengthOf(1);
      } finally {
        if (spinner?.pid !== undefined) process.kill(spinner.pid, 'SIGKILL');
        await c.destroy();
        await other.destroy();
        cg.destroy();
      }
    });

    it('should count CPU of every process in the sandbox, not only the waited-for ones', async function () {
      // An orphan (reaped by init, never waited for by the command) does a
      // fixed amount of work; the command waits on a FIFO, using no CPU.
      const work = 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done';
      const cmd = ['sh', '-c', `mkfifo /tmp/f; ( (${work}; echo > /tmp/f) & ); read x < /tmp/f`];
      const rusage = await Container.run(cmd);
      const cgroup = await Container.run(cmd, { cgroup: {} });
      const why = `cgroup ${cgroup.cpuTimeMs} ms, getrusage ${rusage.cpuTimeMs} ms`;
      expect(cgroup.cpuTimeMs, why).to.be.above(2 * rusage.cpuTimeMs!);
      expect(cgroup.cpuTimeMs! - rusage.cpuTimeMs!, why).to.be.above(50);
    });

    it('should freeze a counter with pause() and let it go on with resume()', async function () {
      const c = new Container({ cgroup: {} });
      try {
        await c.start();
        const p = c.exec(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let last = 0;
        p.stdout!.on('data', (d: Buffer) => {
          const lines = d.toString().trim().split('\n');
          last = Number(lines[lines.length - 1]);
        });
        expect(await waitFor(() => last > 5, 5000)).to.equal(true);
        await c.pause();
        expect(c.state).to.equal('paused');
        await new Promise((r) => setTimeout(r, 50)); // what was in the pipe
        const frozenAt = last;
        const cpuAt = c.stats().cpu.usageUsec;
        await new Promise((r) => setTimeout(r, 300));
        expect(last, 'no count while paused').to.equal(frozenAt);
        expect(c.stats().cpu.usageUsec).to.equal(cpuAt);
        c.resume();
        expect(c.state).to.equal('running');
        expect(await waitFor(() => last > frozenAt + 3, 5000), 'counting again').to.equal(true);
      } finally {
        await c.destroy();
      }
    });

    // v1's freezer: the kernel switches a static key when the first group
    // of the host freezes and the last thaws, ~1.3 ms of code patching per
    // write on this project's VM. While a container of ours joined the
    // freezer, an empty group of ours stays frozen (freezer-hold.ts).
    it('should keep one empty frozen group while paused-once containers live (v1; none on v2), and remove it after the last', async function () {
      if (version() === 2) {
        // v2's cgroup.freeze has no such key: no group of the library's beyond the container's.
        const c = new Container({ cgroup: {} });
        try {
          await c.start();
          c.exec(['sleep', '100'], { stdio: 'ignore' });
          await c.pause();
          c.resume();
          await c.pause();
          expect(freezerHoldDirs()).to.deep.equal([]);
        } finally {
          await c.destroy();
        }
        return;
      }
      const frozen = (d: string) => readFileSync(join(d, 'freezer.state'), 'utf8').trim();
      // A second's linger: "kept a moment after the last" is read right
      // after destroy(), whose own steps may take a good part of 100 ms on a
      // loaded machine (the suite never relies on timing it can miss).
      _setFreezerLinger(1000);
      const a = new Container({ cgroup: {} });
      const b = new Container({ cgroup: {} });
      try {
        // (One an earlier test's pause() made goes within its linger.)
        expect(await waitFor(() => freezerHoldDirs().length === 0, 5000)).to.equal(true);
        await a.start();
        a.exec(['sleep', '100'], { stdio: 'ignore' });
        await a.pause();
        const [hold] = freezerHoldDirs();
        expect(hold, 'made at the first pause()').to.be.a('string');
        expect(dirname(hold!)).to.equal(dirname(a.cgroup!.paths.find((p) => p.includes('/freezer/'))!));
        expect(basename(hold!)).to.match(CGROUP_NAME_RE); // gc() knows whose it is
        expect(frozen(hold!)).to.equal('FROZEN');
        expect(readFileSync(join(hold!, 'cgroup.procs'), 'utf8'), 'nothing in it').to.equal('');
        a.resume();
        expect(frozen(hold!), 'resume() leaves it').to.equal('FROZEN');
        // A second container shares it; a kill of a paused one (freeze, signal, thaw) too.
        await b.start();
        b.exec(['sleep', '100'], { stdio: 'ignore' });
        await b.pause();
        expect(freezerHoldDirs()).to.deep.equal([hold]);
        await b.destroy();
        expect(b.state).to.equal('destroyed');
        await new Promise((r) => setTimeout(r, 300));
        expect(existsSync(hold!), 'kept while one that paused lives').to.equal(true);
        await a.pause();
        await a.destroy();
        expect(existsSync(hold!), 'kept a moment after the last').to.equal(true);
        expect(await waitFor(() => !existsSync(hold!), 5000), 'then removed').to.equal(true);
        expect(freezerHoldDirs()).to.deep.equal([]);
      } finally {
        _setFreezerLinger(undefined);
        await a.destroy();
        await b.destroy();
      }
    });

    // A payload that can mount the freezer hierarchy (uid 0 with CAP_SYS_ADMIN:
    // its cgroup namespace was made before its group joined the freezer, so
    // there it sees the Node process's group) puts a process in the hold.
    for (const own of [true, false]) it(`should destroy a container ${own ? '' : 'on a caller-made group '}whose uid-0 CAP_SYS_ADMIN payload put a process in the freezer hold (v1), and leave the hold empty`, async function () {
      if (version() === 2) return; // v2 has no hold: the test above checks that none is made
      this.timeout(30000);
      const g = own ? undefined : new CGroup({ pids: 64 }).create();
      const c = new Container({ cgroup: g ?? { pids: 64 }, user: { uid: 0 }, capabilities: ['sys_admin'], namespaces: ['mnt', 'uts', 'ipc', 'net', 'cgroup', 'pid'] });
      let done = false;
      try {
        await c.start();
        await c.pause();
        c.resume();
        const [hold] = freezerHoldDirs();
        expect(hold).to.be.a('string');
        const sh = `exec </dev/null >/dev/null 2>&1; mkdir -p /tmp/fz && mount -t cgroup -o freezer none /tmp/fz && { setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > /tmp/fz/isolate-kit/${basename(hold!)}/cgroup.procs; }`;
        const r = await c.run(['sh', '-c', sh], { timeout: 10000 });
        skipUnless(this, r.exitCode === 0 ? null : `no v1 freezer mount from inside on this host (${r.stderr.trim()})`);
        expect(readFileSync(join(hold!, 'cgroup.procs'), 'utf8'), 'the payload got in').to.not.equal('');
        const t = setTimeout(() => {
          if (!done) writeFileSync(join(hold!, 'freezer.state'), 'THAWED'); // unstick the run so the suite goes on
        }, 15000);
        await c.destroy();
        done = true;
        clearTimeout(t);
        expect(readFileSync(join(hold!, 'freezer.state'), 'utf8').trim(), 'destroy() finished without the hold thawed').to.equal('FROZEN');
        expect(readFileSync(join(hold!, 'cgroup.procs'), 'utf8')).to.equal('');
      } finally {
        done = true;
        await c.destroy();
        await g?.destroy();
      }
    });

    it('should make the freezer hold again when its directory was removed behind its back (v1)', async function () {
      if (version() === 2) return; // v2 has no hold: the test above checks that none is made
      const a = new CGroup({}).create();
      const c = new Container({ cgroup: {} });
      try {
        await a.freeze();
        a.thaw();
        const [hold] = freezerHoldDirs();
        expect(hold).to.be.a('string');
        rmdirSync(hold!);
        await c.start();
        await c.pause();
        c.resume();
        const [again] = freezerHoldDirs();
        expect(again, 'a new hold').to.not.equal(hold);
        expect(existsSync(again!)).to.equal(true);
        expect(readFileSync(join(again!, 'freezer.state'), 'utf8').trim()).to.equal('FROZEN');
      } finally {
        await c.destroy();
        await a.destroy();
      }
    });

    // v1: a freeze that meets init's vfork of a new process can stay
    // FREEZING for good (CGroup.freeze() says why); seen in ~1 of 10 such
    // pauses on this project's VM before freeze() learnt to ask again.
    it('should pause a container right after an exec(), every time', async function () {
      this.timeout(120_000);
      for (let i = 0; i < 30; i++) {
        const c = new Container({ cgroup: {} });
        try {
          await c.start();
          c.exec(['sleep', '100'], { stdio: 'ignore' });
          await c.pause();
          expect(c.cgroup!.frozen, `round ${i}`).to.equal(true);
          c.resume();
        } finally {
          await c.destroy();
        }
      }
    });

    it('should kill a paused container', async function () {
      const c = new Container({ cgroup: {} });
      await c.start();
      c.exec(['sleep', '100'], { stdio: 'ignore' });
      await c.pause();
      await c.destroy();
      expect(c.state).to.equal('destroyed');
    });

    it('should kill every process in the group, even ones that left the process tree (no pid namespace)', async function () {
      const marker = sleepMarker();
      const c = new Container({ cgroup: {}, namespaces: ['mnt', 'uts', 'ipc', 'net', 'cgroup'] });
      const r = await c.run(['sh', '-c', `(setsid sleep ${marker} &); echo started`]);
      expect(r.stdout).to.equal('started\n');
      await c.destroy();
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the escaped sleep is gone').to.equal(true);
    });

    // Both directions, with O_DIRECT: on v1 the throttles hold only for I/O
    // the group's processes issue themselves (cgroups.md: buffered writes
    // are written back by the kernel's flusher, outside any group).
    for (const way of [
      { name: 'reads from', limit: 'rbps', file: 'read_bps_device', stat: 'readBytes', dd: (dev: string) => `if=${dev} of=/dev/null bs=256k count=8 iflag=direct` },
      { name: 'writes to', limit: 'wbps', file: 'write_bps_device', stat: 'writeBytes', dd: (dev: string) => `if=/dev/zero of=${dev} bs=256k count=8 oflag=direct` },
    ] as const) {
      it(`should throttle ${way.name} a real block device (io.max ${way.limit})`, async function () {
        const disk = testDisk();
        skipUnless(this, typeof disk === 'string' ? disk : null);
        const dev = disk as TestDisk;
        const cg = new CGroup({ io: { max: [{ device: dev.path, [way.limit]: '1M' }] } }).create();
        try {
          // A host process (the device is the host's) moved into the group before it starts.
          const dd = spawn('sh', ['-c', `read go; exec dd ${way.dd(dev.path)}`], { stdio: ['pipe', 'ignore', 'pipe'] });
          cg.addProcess(dd.pid!);
          const t0 = Date.now();
          dd.stdin!.end('go\n');
          const code = await new Promise((r) => dd.on('exit', r));
          const seconds = (Date.now() - t0) / 1000;
          expect(code).to.equal(0);
          // 2 MiB at 1 MiB/s: the first MiB may pass at once (burst), the rest waits.
          expect(seconds, `2 MiB took ${seconds} s`).to.be.above(0.8);
          expect(cg.stats().io![way.stat]).to.be.at.least(2 * 1024 * 1024);
          const file = version() === 2 ? join(cg.paths[0]!, 'io.max') : join(cg.paths.find((p) => p.includes('blkio'))!, `blkio.throttle.${way.file}`);
          expect(readFileSync(file, 'utf8')).to.include(`${dev.major}:${dev.minor}`);
        } finally {
          await cg.destroy();
          dev.release();
        }
      });
    }

    it('should deny a block device outside the devices allow list', async function () {
      const disk = testDisk();
      skipUnless(this, typeof disk === 'string' ? disk : null);
      const dev = disk as TestDisk;
      try {
        await checkDevices(dev);
      } finally {
        dev.release();
      }
    });

    it("should read an 'a' rule's numbers and access as they are, not as every device", async function () {
      // /dev/zero read (and made: init's mknod) but not written: on v1 an
      // 'a' rule is the block and the char rule it says, not "allow all".
      const devices = ['c 1:3 rwm', 'a 1:5 rm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm'];
      const script = 'echo x > /dev/null && echo null-w; head -c 1 /dev/zero | wc -c; (echo x > /dev/zero) 2>/dev/null && echo zero-w; true';
      const r = await Container.run(['sh', '-c', script], { cgroup: { devices } });
      expect(r.status, r.error?.message).to.equal('ok');
      expect(r.stdout.split('\n').filter(Boolean)).to.deep.equal(['null-w', '1']);
    });

    // The list is in force from the first instruction, before init makes
    // /dev: a list without mknod of init's nodes failed every start at
    // `mknod /dev/null` (EPERM). init's mknods are let through; using a
    // node still takes a rule of the list.
    it("should start with a short devices list (no mknod given), and allow only the list's access", async function () {
      for (const devices of [['/dev/null'], ['c 1:3 rw'], ['c 1:3 rwm']]) {
        const r = await Container.run(['sh', '-c', 'echo x > /dev/null && echo null-w; head -c 1 /dev/zero | wc -c'], { cgroup: { devices } });
        expect(r.status, `${devices}: ${r.error?.message}`).to.equal('ok');
        expect(r.stdout.split('\n').filter(Boolean), String(devices)).to.deep.equal(['null-w', '0']);
        expect(r.stderr, String(devices)).to.match(/\/dev\/zero.*Operation not permitted/);
      }
      // Nor does it give mknod of another device to a payload with CAP_MKNOD.
      const opts = { user: { uid: 0, gid: 0 }, capabilities: ['CAP_MKNOD'] };
      const mk = await Container.run(['sh', '-c', 'mknod /tmp/z c 1:5 2>&1; mknod /tmp/n c 1 3 && echo made-null; mknod /tmp/m c 1 1 || echo no-mem'], { ...opts, cgroup: { devices: ['/dev/null'] } });
      expect(mk.stdout).to.include('made-null');
      expect(mk.stdout).to.include('no-mem');
    });

    async function checkDevices(dev: TestDisk): Promise<void> {
      const script = `mknod /dev/disk b ${dev.major} ${dev.minor} && head -c 512 /dev/disk | wc -c`;
      const opts = { user: { uid: 0, gid: 0 }, capabilities: ['CAP_MKNOD'] };
      // Without a devices limit, root with CAP_MKNOD reads the disk: the test can tell.
      const open = await Container.run(['sh', '-c', script], { ...opts, cgroup: {} });
      expect(open.stdout.trim()).to.equal('512');
      const base = ['c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm'];
      const denied = await Container.run(['sh', '-c', script], { ...opts, cgroup: { devices: base } });
      expect(denied.stdout.trim()).to.equal('');
      expect(denied.stderr).to.match(/Operation not permitted/);
      // mknod allowed, read not: the open itself is refused.
      const noRead = await Container.run(['sh', '-c', script], { ...opts, cgroup: { devices: [...base, `b ${dev.major}:${dev.minor} m`] } });
      expect(noRead.stderr).to.match(/Operation not permitted/);
      expect(noRead.stdout.trim()).to.not.equal('512');
      // /dev/null still works under the list.
      const ok = await Container.run(['sh', '-c', 'echo x > /dev/null && echo fine'], { cgroup: { devices: base } });
      expect(ok.stdout).to.equal('fine\n');
    }
  });

  describe('stats()', function () {
    it('should report cpu, memory and pids while running and the final figures after', async function () {
      const c = new Container({ cgroup: { memory: '64M' } });
      try {
        await c.start();
        const p = c.exec(['sh', '-c', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 5'], { stdio: 'ignore' });
        await new Promise((r) => setTimeout(r, 300));
        const s = c.stats();
        expect(s.cpu.usageUsec).to.be.above(0);
        // Split as the kernel splits v2's (cputime_adjust): they add up to the usage, on v1 too.
        expect(s.cpu.userUsec + s.cpu.systemUsec).to.be.within(s.cpu.usageUsec - 2, s.cpu.usageUsec + 2);
        expect(s.cpu.userUsec).to.be.within(0, s.cpu.usageUsec);
        expect(s.memory.current).to.be.above(0);
        expect(s.memory.oomKills).to.equal(0);
        expect(s.pids!.current).to.be.at.least(2);
        p.kill('SIGKILL');
      } finally {
        await c.destroy();
      }
      const final = c.stats();
      expect(final.cpu.usageUsec).to.be.above(0);
      expect(final.memory.peak ?? 1).to.be.above(0);
      // Read at the end, parsed after the group went: still there.
      expect(final.pids, 'pids after the end').to.not.equal(null);
      expect(final.pids!.current).to.equal(0);
      if (final.pids!.peak !== null) expect(final.pids!.peak).to.be.at.least(2);
    });
  });

  describe('lifecycle', function () {
    it('should remove the group when the container ends, and after 1,000 runs leave none', async function () {
      this.timeout(600_000); // ~4 s here; minutes in the emulated cgroup-v2 VM
      const c = new Container({ cgroup: { memory: '32M', pids: 16 } });
      await c.start();
      const paths = c.cgroup!.paths;
      expect(paths.every((p) => existsSync(p))).to.equal(true);
      await c.destroy();
      // Gone, but for the accounting group kept for the next container (v1; see the next test).
      const kept = new Set(pooledCgroupDirs());
      expect(paths.filter((p) => existsSync(p) && !kept.has(p))).to.deep.equal([]);
      const nodesBefore = kernfsNodes();
      const dentriesBefore = dentries();
      for (let i = 0; i < 1000; i++) {
        const r = await Container.run(['true'], { cgroup: { memory: '32M', pids: 16 } });
        if (r.status !== 'ok') throw new Error(`run ${i}: ${r.status} ${r.error?.message}`);
      }
      // The last run's group is removed in the turn of the event loop after its end (dropCgroupSoon).
      await new Promise((r) => setImmediate(r));
      expect(ourCgroups()).to.deep.equal([]);
      // Nor anything of theirs in the kernel's caches: a group's file still
      // open when its directory was removed kept its kernfs node (and dentry
      // and inode) cached after the close, ~7 per run, for good: 7,000 here.
      // The bound allows for the kernel's own, counted machine-wide: the
      // network namespaces' sysfs nodes are freed by a kernel worker, some
      // after this loop (this host: 390–670 left when the loop ends).
      if (nodesBefore !== undefined) {
        let grown = Infinity;
        for (let i = 0; i < 30 && grown >= 2000; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 100));
          grown = (kernfsNodes() ?? Infinity) - nodesBefore;
        }
        expect(grown).to.be.below(2000);
      }
      // Nor a negative dentry per removed name (a fresh name per group added
      // ~0.5 per run for good, 500 here; removed groups' names are used
      // again). Machine-wide too: this host left 50–80.
      expect(dentries() - dentriesBefore).to.be.below(300);
    });

    it('should close the files of its pooled and kept groups before removing them at exit', async function () {
      // 30 Node processes: ~3 s here, ~100 s in the emulated cgroup-v2 VM (a Node start there takes over a second), more on a busy host.
      this.timeout(400_000);
      const before = kernfsNodes();
      skipUnless(this, before === undefined ? 'the kernel\'s slab counts (/proc/slabinfo) are readable only by root' : null);
      // Processes that each leave ready groups and a kept accounting group to
      // the exit hook, which removes them: with their files still open, each
      // exit left ~15 kernfs nodes in the kernel's caches. Each process also
      // watches every rmdir the library makes (it goes through fs.rmdirSync)
      // and says which of its own files was still open inside the directory:
      // the order itself, where the slab count below only sees its effect.
      const lib = join(__dirname, '..', '..', 'lib');
      const script = `const fs = require('fs');
        const rmdir = fs.rmdirSync;
        fs.rmdirSync = (dir, ...rest) => {
          for (const fd of fs.readdirSync('/proc/self/fd')) {
            let to = '';
            try { to = fs.readlinkSync('/proc/self/fd/' + fd); } catch {}
            if (to.startsWith(dir + '/')) { fs.writeSync(2, 'open at rmdir: ' + to + '\\n'); process.exitCode = 3; }
          }
          return rmdir(dir, ...rest);
        };
        const { Container } = require(${JSON.stringify(lib)});
        (async () => { for (let i = 0; i < 3; i++) await Container.run(['true'], { network: 'host', cgroup: { memory: '32M', pids: 16 } }); })();`;
      for (let i = 0; i < 30; i++) {
        const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
        expect(r.stderr).to.equal('');
        expect(r.status).to.equal(0);
      }
      expect(ourCgroups()).to.deep.equal([]);
      // Freed after RCU grace periods and in kernel workers, and counted
      // machine-wide: whatever else the machine does moves it. In the emulated
      // cgroup-v2 VM the count swung by ±400 between runs 5 s apart with
      // nothing of ours left, and 3 of 10 runs stayed at 156–288 after 10–30 s;
      // one fresh CI machine (v1) stayed 156 above. The leak this guards
      // against left ~15 nodes per exit, 409–450 here: a bound of 300 on a
      // real kernel still sees it; the VM gets 400 and the check above.
      const bound = version() === 2 ? 400 : 300;
      let grown = Infinity;
      for (let i = 0; i < 300 && grown >= bound; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        grown = (kernfsNodes() ?? Infinity) - before!;
      }
      expect(grown).to.be.below(bound);
    });

    it("should remove a run's group in the next turn after its end with a pid namespace, and at once without one", async function () {
      // What is left when the container's 'exit' is emitted (in the same
      // call as the group's removal, or its putting off).
      const atExit = async (namespaces?: ContainerOptions['namespaces']) => {
        const c = new Container({ cgroup: { pids: 16 }, ...(namespaces ? { namespaces } : {}) });
        const left = new Promise<string[]>((done) => c.once('exit', () => done(ourCgroups())));
        expect((await c.run(['true'])).status).to.equal('ok');
        const seen = await left;
        await c.destroy();
        return seen;
      };
      // With a pid namespace nothing in the group outlives init's end (the
      // kernel waits for them all): the removal waits for the next turn of
      // the event loop, and Container.run's result does not wait for it.
      expect(await atExit()).to.have.length.above(0);
      expect(ourCgroups()).to.deep.equal([]);
      // Without one, a process that left init's care may still run in the
      // group: the removal, which kills it, is made at once.
      expect(await atExit(['mnt', 'uts', 'ipc', 'net', 'cgroup'])).to.deep.equal([]);
      const r = await Container.run(['true'], { cgroup: { pids: 16 } });
      expect(r.status).to.equal('ok');
      await new Promise((done) => setImmediate(done));
      expect(ourCgroups()).to.deep.equal([]);
    });

    it("should not let a process addProcess() put in a pid-namespaced container's group outlive its result", async function () {
      // A host process moved into the container's group is outside its pid
      // namespace: init's end does not take it along, only the removal's kill.
      const c = new Container({ cgroup: { pids: 16 } });
      const host = spawn('sleep', ['30'], { stdio: 'ignore' });
      const gone = new Promise((done) => host.once('exit', done));
      try {
        const started = new Promise<void>((done) => c.once('start', () => done()));
        const p = c.run(['sleep', '0.3']);
        await started;
        c.cgroup!.addProcess(host.pid!);
        expect((await p).status).to.equal('ok');
        // Killed before the result: a zombie at most until Node reaps it,
        // still in its exit (PF_EXITING), or with the SIGKILL not yet taken
        // (c.run() does not wait for the removal, which sends it at once;
        // the emulated v2 VM showed both). A process that has just taken
        // the signal, and is not yet exiting, reads as running: so it is
        // looked at again for a while with the event loop held (Atomics.wait),
        // no JavaScript of the library's running meanwhile, and it must
        // then be on its way out all the same.
        const look = () => {
          try {
            const stat = readFileSync(`/proc/${host.pid}/stat`, 'utf8');
            const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if ((Number(f[6]) & 0x4) !== 0) return 'exiting';
            const status = readFileSync(`/proc/${host.pid}/status`, 'utf8');
            const pending = [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].some((m) => ((BigInt(`0x${m[1]}`) >> 8n) & 1n) === 1n);
            return pending ? 'SIGKILL pending' : f[0]!;
          } catch {
            return 'gone';
          }
        };
        const held = new Int32Array(new SharedArrayBuffer(4));
        let state = look();
        for (let i = 0; i < 2000 && !['Z', 'X', 'exiting', 'SIGKILL pending', 'gone'].includes(state); i++) {
          Atomics.wait(held, 0, 0, 1);
          state = look();
        }
        expect(state, 'the added process at the run\'s result').to.be.oneOf(['Z', 'X', 'exiting', 'SIGKILL pending', 'gone']);
      } finally {
        host.kill('SIGKILL');
        await gone;
        await c.destroy();
      }
      expect(ourCgroups()).to.deep.equal([]);
    });

    it('should keep only the cpuacct group for the next container (v1) at every end, each run counting its own CPU', async function () {
      const spin = await Container.run(['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'], { cgroup: {} });
      expect(spin.cpuTimeMs).to.be.above(50);
      // Every end hands it on, not only most: init dies while the end looks
      // for processes moved into it by hand, which once took the dying init
      // for one about half the time (and removed the group).
      let left: string[] = [];
      for (let i = 0; i < 12; i++) {
        const c = new Container({ cgroup: { memory: '32M', pids: 16 } });
        await c.start();
        const paths = c.cgroup!.paths;
        await c.destroy();
        left = paths.filter((p) => existsSync(p));
        if (version() === 2) {
          expect(left).to.deep.equal([]);
        } else {
          // Only the accounting group: empty, and the pool's now (its counters so far are the next group's zero).
          expect(left, `end ${i}`).to.have.length(1);
          expect(left[0]!.startsWith(`${readCgroupMounts().v1.get('cpuacct')}/`)).to.equal(true);
          expect(pooledCgroupDirs()).to.include(left[0]);
          expect(readFileSync(join(left[0]!, 'tasks'), 'utf8')).to.equal('');
        }
      }
      const next = new Container({ cgroup: {} });
      await next.start();
      if (version() === 1) expect(next.cgroup!.paths).to.include(left[0]);
      const quick = await next.run(['true']);
      await next.destroy();
      expect(quick.cpuTimeMs).to.be.below(spin.cpuTimeMs! / 4);
    });

    it('should show inside only its own groups, read-only, each as the root of its hierarchy', async function () {
      await expectOwnView();
    });

    it('should show the same with a tmpfs of its own where the host has no tmpfs of hierarchies to bind', async function () {
      const mounts = readCgroupMounts();
      const saved = mounts.v1Root;
      delete mounts.v1Root;
      try {
        await expectOwnView();
      } finally {
        if (saved !== undefined) mounts.v1Root = saved;
      }
    });

    it('should keep ready groups for the few sets of limit files used last, removing the others', async function () {
      // 12 sets of limits (different files: which of memory.max, memory.low,
      // pids, and with swapMax or not), each used twice: each gets a pool of
      // ready groups; only the last 8 pools stay.
      const sets: CGroupLimits[] = [];
      for (const memory of [undefined, '40M', { low: '8M' }, { max: '40M', low: '8M' }]) {
        for (const pids of [undefined, 30]) sets.push({ ...(memory ? { memory } : {}), ...(pids ? { pids } : {}) });
      }
      sets.push({ memory: { max: '40M', swapMax: 0 } }, { memory: { max: '40M', swapMax: 0 }, pids: 30 }, { cpus: 0.5 }, { cpus: 0.5, pids: 30 });
      for (const limits of sets) {
        for (let j = 0; j < 2; j++) {
          const r = await Container.run(['true'], { cgroup: limits });
          expect(r.status, JSON.stringify(limits)).to.equal('ok');
        }
      }
      await new Promise((r) => setImmediate(r)); // the last refill
      // Directories of a pooled group (v1: memory, pids, and hugetlb with a memory limit where the host has it).
      const roots = version() === 2 ? 1 : readCgroupMounts().v1.has('hugetlb') ? 3 : 2;
      expect(pooledCgroupDirs().filter((d) => !d.startsWith(`${readCgroupMounts().v1.get('cpuacct') ?? '//'}/`)).length).to.be.at.most(8 * 2 * roots);
      expect(ourCgroups()).to.deep.equal([]); // the dropped pools' groups are gone
    });

    it("should hand on an accounting directory from its counters once empty, not the run's end (a survivor's exit went to the next run)", async function () {
      if (version() === 2) return; // v2 makes a group per container, counted from zero: nothing handed on
      // Without a pid namespace a process that left init's care (setsid)
      // outlives init and is killed after the run's figures were read: the
      // CPU of its kill and exit (~85 ms for 1 GB to free) was then counted
      // from the base the next container took, in that one's cpuTimeMs.
      const marker = sleepMarker();
      // The command waits until the survivor has its own session (a FIFO it writes once there).
      const r = await Container.run(['sh', '-c', `mkfifo /tmp/f; setsid sh -c 'echo > /tmp/f; exec sleep ${marker}' >/dev/null 2>&1 & read x < /tmp/f`], {
        cgroup: {},
        namespaces: ['mnt', 'uts', 'ipc', 'net', 'cgroup'],
      });
      expect(r.status).to.equal('ok');
      expect(markerProcesses(marker), 'the survivor was killed with the group').to.deep.equal([]);
      const kept = _keptAccounting();
      expect(kept.length, 'an accounting directory kept for the next container').to.be.above(0);
      for (const g of kept) expect(g.base.usage, g.dir).to.equal(Number(readFileSync(join(g.dir, 'cpuacct.usage'), 'utf8')));
    });

    it('should kill a process moved into one of its directories by hand, and then remove them all', async function () {
      // On v1 into the cpuacct directory only (the one a group may hand on):
      // the group must not be handed on with it, nor left behind. A run just
      // before hands one on to this container: its last look at the group's
      // tasks, through a kept fd, could be what the kernel answered a read of
      // that fd again within a second (an empty list, the stray missed).
      await Container.run(['true'], { cgroup: {} });
      const c = new Container({ cgroup: {} });
      await c.start();
      const paths = c.cgroup!.paths;
      const target = version() === 2 ? paths[0]! : paths.find((p) => p.startsWith(`${readCgroupMounts().v1.get('cpuacct')}/`))!;
      const stray = spawn('sleep', ['100'], { stdio: 'ignore' });
      const gone = new Promise((r) => stray.once('exit', r));
      writeFileSync(join(target, 'cgroup.procs'), String(stray.pid));
      await c.destroy();
      await gone;
      expect(stray.signalCode).to.equal('SIGKILL');
      expect(paths.filter((p) => existsSync(p))).to.deep.equal([]);
      expect(pooledCgroupDirs()).to.not.include(target);
    });

    it('should leave nothing when the limits cannot be applied', async function () {
      // A cpuset the kernel takes apart from cpus (memory node 0 exists everywhere), then a bad one.
      const err = await Container.run(['true'], { cgroup: { cpuset: '0-4096' } }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(IsolateError);
      expect((err as IsolateError).code).to.equal('ERR_INVALID_OPTION');
      expect((err as IsolateError).message).to.match(/^`cpuset` names CPUs .*, which this host does not have online/);
    });

    it('should report a group that refuses the new process as a setup failure, leaving nothing', async function () {
      const cg = new CGroup(version() === 2 ? {} : { cpuset: '0' }).create();
      try {
        if (version() === 2) {
          // v2: a group that hands a domain controller (memory; pids is
          // threaded, which a thread root may mix) to a child takes no processes itself.
          mkdirSync(join(cg.paths[0]!, 'child'));
          writeFileSync(join(cg.paths[0]!, 'cgroup.subtree_control'), '+memory');
        } else {
          // v1: a cpuset group without CPUs takes no processes.
          writeFileSync(join(cg.paths.find((p) => p.includes('/cpuset/'))!, 'cpuset.cpus'), '\n');
        }
        const r = await Container.run(['true'], { cgroup: cg });
        expect(r.status).to.equal('error');
        expect(r.error!.code).to.equal('ERR_SETUP_FAILED');
        expect(r.error!.message).to.match(/^Cannot put the container into its cgroup: write: (EBUSY|ENOSPC|EOPNOTSUPP)/);
        expect(r.error!.step).to.equal('join the cgroup');
      } finally {
        if (version() === 2) {
          writeFileSync(join(cg.paths[0]!, 'cgroup.subtree_control'), '-memory');
          rmdirSync(join(cg.paths[0]!, 'child'));
        }
        await cg.destroy();
      }
    });

    it("should refuse a start with EMFILE at every step when Node's fd table is full, leaving no zombie and no group", async function () {
      const probe = spawnSync('prlimit', ['--nofile=256:256', 'true']);
      skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
      this.timeout(120_000);
      // The fixture fills its fd table, frees 0..24 fds and starts a grouped
      // container each time: some step runs out at each count, down to the
      // container's pidfd, which the kernel drops on its way to Node after
      // the container was made (that one used to be EPROTO and a zombie).
      const f = runFixture('fd-exhaustion', ['24'], ['prlimit', '--nofile=256:256']);
      await f.line(/"done"/, 100_000);
      expect(await f.exited, f.stderr()).to.equal(0);
      const attempts = f.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((a) => a.done === undefined);
      expect(attempts).to.have.length(25);
      for (const a of attempts) {
        expect(a.zombies, JSON.stringify(a)).to.equal(0);
        if (a.ok) continue;
        expect(a, JSON.stringify(a)).to.include({ code: 'ERR_SETUP_FAILED', errnoCode: 'EMFILE' });
        expect(a.message).to.match(/^Cannot start the container: .*EMFILE \(too many open files\): this process has as many open files as its limit allows \(256\); .*ulimit -n/);
      }
      expect(attempts.some((a) => a.syscall === 'clone'), 'the pidfd step was reached').to.equal(true);
      expect(attempts[0]!.ok, 'no fd free').to.equal(undefined);
      expect(attempts.slice(-4).every((a) => a.ok), 'enough fds free').to.equal(true);
      // The network namespaces made ahead: the pool ran out of fds too, and refills (it once stopped for good).
      const done = JSON.parse(f.lines.find((l) => l.includes('"done"'))!) as { netnsHeld: number };
      expect(done.netnsHeld, 'ready network namespaces held').to.equal(2);
    });

    // Found by the eighteenth review: the first start's lookup of the init
    // binary read package.json, took EMFILE for "not our package", and
    // reported the init *not built* (ERR_NATIVE), for as long as the table
    // stayed full.
    it('should refuse the process\'s first start with EMFILE, not as a missing build, when the fd table is full', async function () {
      const probe = spawnSync('prlimit', ['--nofile=256:256', 'true']);
      skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
      // Up to 24 fds free: a start needs about that many, so the last ones start.
      const f = runFixture('fd-exhaustion', ['24', 'cold'], ['prlimit', '--nofile=256:256']);
      await f.line(/"done"/, 50_000);
      expect(await f.exited, f.stderr()).to.equal(0);
      const attempts = f.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((a) => a.done === undefined);
      expect(attempts).to.have.length(25);
      expect(attempts[0]!.ok, 'no fd free').to.equal(undefined);
      for (const a of attempts) {
        expect(a.zombies, JSON.stringify(a)).to.equal(0);
        if (!a.ok) expect(a, JSON.stringify(a)).to.include({ code: 'ERR_SETUP_FAILED', errnoCode: 'EMFILE' });
        // Its start time read at last, not kept as 0 from the full table
        // (a reused pid would then read as this owner).
        else expect(a.owner, JSON.stringify(a)).to.match(/^\d+-[1-9]\d*$/);
      }
      expect(attempts.some((a) => a.ok), 'a start once fds were free').to.equal(true);
    });

    // Found by the eighteenth review: the host's cgroup mounts, read when the
    // first Container with a cgroup is made, threw Node's own EMFILE error.
    it('should refuse a Container with a cgroup made with the fd table full as an IsolateError (EMFILE)', function () {
      const probe = spawnSync('prlimit', ['--nofile=256:256', 'true']);
      skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const code = `const fs = require('node:fs');
        const { Container, isIsolateError } = require(${JSON.stringify(lib)});
        const fds = [];
        for (;;) { try { fds.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
        let out;
        try { new Container({ cgroup: { memory: '32M' } }); out = 'made'; } catch (e) { out = isIsolateError(e) ? e.code + ' ' + e.errnoCode : 'not an IsolateError: ' + e.message; }
        for (const fd of fds) fs.closeSync(fd);
        console.log(out);`;
      const r = spawnSync('prlimit', ['--nofile=256:256', process.execPath, '-e', code], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stdout.trim(), r.stderr).to.equal('ERR_SETUP_FAILED EMFILE');
    });

    it('should find and remove the group of a crashed owner with gc(), killing what runs in it', async function () {
      const marker = sleepMarker();
      const f = runFixture('cgroup-crash', [`marker=${marker}`]);
      const { nodePid, paths } = (await f.firstJson) as { nodePid: number; paths: string[] };
      expect(paths.length).to.be.at.least(1);
      expect(await waitFor(() => markerProcesses(marker).length === 1, 3000), 'the sleep runs').to.equal(true);
      process.kill(nodePid, 'SIGKILL');
      expect(await waitFor(() => !exists(nodePid), 3000)).to.equal(true);
      expect(paths.every((p) => existsSync(p)), 'left behind').to.equal(true);
      const report = await gc();
      for (const p of paths) expect(report.cgroups.removed).to.include(p);
      expect(paths.some((p) => existsSync(p))).to.equal(false);
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the sleep in it was killed').to.equal(true);
      await f.exited;
      // Our own live groups are not touched.
      const c = new Container({ cgroup: {} });
      await c.start();
      await gc();
      expect(c.cgroup!.paths.every((p) => existsSync(p))).to.equal(true);
      await c.destroy();
    });
  });

  describe('owners, crashes and exits', function () {
    /** The host pids of `pid`'s children. */
    const childrenOf = (pid: number): number[] =>
      readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    /** `<pid>-<start>` of a group's owner, from its name. */
    const ownerOf = (path: string): string => basename(path).split('-').slice(0, 2).join('-');
    const markExists = (owner: string) => existingParentDirs().some((d) => existsSync(join(d, `${owner}.owner`)));
    /** For a failure's message: each group's processes (and v1's OOM and pids figures), and every process below `pid` with its state and command line. */
    const groupsAndProcesses = (paths: string[], pid: number): string => {
      const read = (file: string) => {
        try {
          return readFileSync(file, 'utf8').trim().replace(/\0/g, ' ').replace(/\n/g, ',');
        } catch (err) {
          return (err as NodeJS.ErrnoException).code ?? String(err);
        }
      };
      const extra = ['memory.failcnt', 'memory.oom_control', 'pids.events'];
      return [
        ...paths.map((p) => `${p} [${read(join(p, 'cgroup.procs'))}]${extra.filter((x) => existsSync(join(p, x))).map((x) => ` ${x} ${read(join(p, x))}`).join('')}`),
        ...descendantsOf(pid).map((q) => `${q} ${processState(q)} ${read(`/proc/${q}/cmdline`)}`),
      ].join('; ');
    };
    /** Ends a wrapped fixture a failure left running (unshare takes its child along), then removes its groups. */
    const endWrapped = async (f: ReturnType<typeof runFixture>) => {
      if (f.child.exitCode === null && f.child.signalCode === null) for (const p of descendantsOf(f.child.pid!)) kill9(p);
      await f.exited;
      await gc();
    };

    it('should leave alone the groups of a live owner in another pid or time namespace, and remove them once it is gone', async function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--time', '--boottime', '1000', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of pid and time namespaces fails here: ${probe.stderr}`);
      this.timeout(150_000); // two fixtures, each up to 45 s to start in the emulated VM
      const wrappers = [
        ['unshare', '--pid', '--mount-proc', '--kill-child'],
        ['unshare', '--time', '--boottime', '100000', '--kill-child'],
      ];
      for (const wrapper of wrappers) {
        const marker = sleepMarker();
        const f = runFixture('cgroup-crash', [`marker=${marker}`], wrapper);
        try {
          const { paths } = (await f.firstJson) as { paths: string[] };
          expect(await waitFor(() => markerProcesses(marker).length === 1, 3000), 'the sleep runs').to.equal(true);
          const owner = ownerOf(paths[0]!);
          const unshare = childrenOf(f.child.pid!)[0]!;
          const node = childrenOf(unshare)[0]!;
          // What its name says reads as dead from here (pid 1 of its own namespace, or a start time after its own boot time)...
          const [pid, start] = owner.split('-').map(Number) as [number, number];
          expect(processStartTime(pid), owner).to.not.equal(start);
          expect(markExists(owner), 'its mark').to.equal(true);
          // Only its owner's to open (and so to lock): anyone else holding it would keep gc() off a dead owner's groups.
          for (const d of existingParentDirs()) {
            if (existsSync(join(d, `${owner}.owner`))) expect(statSync(join(d, `${owner}.owner`)).mode & 0o777).to.equal(0o700);
          }
          // ...but its mark is held: gc() leaves it all.
          const before = groupsAndProcesses(paths, f.child.pid!);
          const report = await gc();
          // (What was seen, should this fail: who holds each mark, whether the owner still ran, and what was in its groups and under the wrapper before gc() and after.)
          const seen = () =>
            `${wrapper.join(' ')}: gc ${JSON.stringify(report.cgroups)}; node ${processState(node)}, unshare ${processState(unshare)}; ` +
            `marks ${existingParentDirs().map((d) => join(d, `${owner}.owner`)).filter((m) => existsSync(m)).map((m) => `${m} ${markState(m, 0)}`).join(', ')}; ` +
            `fixture stderr ${JSON.stringify(f.stderr())}; before gc ${before}; now ${groupsAndProcesses(paths, f.child.pid!)}`;
          for (const p of paths) expect(report.cgroups.removed, seen()).to.not.include(p);
          expect(paths.every((p) => existsSync(p)), seen()).to.equal(true);
          expect(markerProcesses(marker).length, `the sleep still runs (${seen()})`).to.equal(1);
          // The owner goes (unshare, then its child): now gc() removes its groups, the sleep in them, and its mark.
          process.kill(unshare, 'SIGKILL');
          expect(await waitFor(() => !exists(node), 3000)).to.equal(true);
          const after = await gc();
          for (const p of paths) expect(after.cgroups.removed).to.include(p);
          expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the sleep was killed').to.equal(true);
          expect(markExists(owner), 'its mark is gone').to.equal(false);
        } finally {
          await endWrapped(f);
        }
      }
    });

    it("should name its groups by its own start time when /proc is another pid namespace's, so gc() removes them once it is gone", async function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of a pid namespace fails here: ${probe.stderr}`);
      // Node is pid 1 of a pid namespace of its own, with the host's /proc
      // (no --mount-proc): /proc/1 there is the host's init, not Node.
      const marker = sleepMarker();
      const f = runFixture('cgroup-crash', [`marker=${marker}`], ['unshare', '--pid', '--kill-child']);
      try {
        const { nodePid, paths } = (await f.firstJson) as { nodePid: number; paths: string[] };
        expect(nodePid, 'pid 1 of its namespace').to.equal(1);
        const unshare = childrenOf(f.child.pid!)[0]!;
        const node = childrenOf(unshare)[0]!;
        const owner = ownerOf(paths[0]!);
        // Its own start time (the host's init's made its groups look alive for as long as the host ran).
        expect(Number(owner.split('-')[1]), owner).to.equal(processStartTime(node));
        process.kill(unshare, 'SIGKILL');
        expect(await waitFor(() => !exists(node), 3000)).to.equal(true);
        const report = await gc();
        for (const p of paths) expect(report.cgroups.removed, JSON.stringify(report.cgroups)).to.include(p);
        expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the sleep was killed').to.equal(true);
        expect(markExists(owner), 'its mark is gone').to.equal(false);
      } finally {
        await endWrapped(f);
        // Without the fix nothing here could remove them (their name reads as alive): by hand.
        for (const p of markerProcesses(marker)) kill9(p);
        await waitFor(() => markerProcesses(marker).length === 0, 2000);
        for (const d of existingParentDirs()) for (const n of readdirSync(d)) if (/^1-\d+(-[0-9a-f]{10}|\.owner)$/.test(n) && Number(n.split(/[-.]/)[1]) === processStartTime(1)) {
          try { rmdirSync(join(d, n)); } catch { /* busy: left */ }
        }
      }
    });

    it('should not signal its own process group for a process in the group it cannot see (v2 lists it as pid 0 in another pid namespace)', async function () {
      const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of a pid namespace fails here: ${probe.stderr}`);
      // A session of its own: a signal to its process group must reach no
      // one else's, mocha's least of all. Node under sh, not pid 1 of the
      // namespace (which would ignore a signal it has no handler for).
      const f = runFixture('cgroup-pidns-kill', [], ['setsid', 'unshare', '--pid', '--mount-proc', '--kill-child', 'sh', '-c', '"$@"; exit $?', 'sh']);
      const host = spawn('sleep', ['30'], { stdio: 'ignore' });
      const gone = new Promise((done) => host.once('exit', done));
      let node: number | undefined;
      try {
        const { paths } = (await f.firstJson) as { paths: string[] };
        node = childrenOf(childrenOf(childrenOf(f.child.pid!)[0]!)[0]!)[0]!;
        for (const p of paths) writeFileSync(join(p, 'cgroup.procs'), String(host.pid));
        process.kill(node, 'SIGUSR1'); // cg.kill('SIGTERM') there
        const seen = JSON.parse(await f.line(/survived/)) as { procs: number[] };
        expect(seen.procs, 'not its to see').to.deep.equal([]);
        expect(processState(host.pid!), 'nor to signal').to.match(/^[RS]/);
      } finally {
        host.kill('SIGKILL');
        await gone;
        if (node !== undefined && exists(node)) process.kill(node, 'SIGUSR2'); // removes the group and exits
      }
      expect(await f.exited, f.stderr()).to.equal(0);
    });

    it('should thaw, kill and remove the group of an owner that crashed while its container was paused', async function () {
      const marker = sleepMarker();
      const f = runFixture('cgroup-crash', [`marker=${marker}`, 'pause']);
      const { nodePid, paths, hold } = (await f.firstJson) as { nodePid: number; paths: string[]; hold: string[] };
      expect(hold, 'v1 keeps the freezer on with a group of its own').to.have.length(version() === 1 ? 1 : 0);
      expect(markerProcesses(marker).length).to.equal(1);
      process.kill(nodePid, 'SIGKILL');
      expect(await waitFor(() => !exists(nodePid), 3000)).to.equal(true);
      const report = await gc();
      expect(report.cgroups.failed).to.deep.equal([]);
      for (const p of [...paths, ...hold]) expect(report.cgroups.removed).to.include(p);
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the frozen sleep was killed').to.equal(true);
      expect(markExists(ownerOf(paths[0]!))).to.equal(false);
      await f.exited;
    });

    it('should kill and remove a paused container and its group when the Node process exits', async function () {
      const marker = sleepMarker();
      const f = runFixture('cgroup-crash', [`marker=${marker}`, 'pause', 'exit']);
      const { paths, hold } = (await f.firstJson) as { paths: string[]; hold: string[] };
      expect(hold).to.have.length(version() === 1 ? 1 : 0);
      expect(await f.exited).to.equal(0);
      // No gc(): the exit itself thawed, killed and removed it all, the freezer's hold group too.
      expect([...paths, ...hold].filter((p) => existsSync(p))).to.deep.equal([]);
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the paused sleep is gone').to.equal(true);
      expect(markExists(ownerOf(paths[0]!))).to.equal(false);
    });

    for (const used of [false, true]) it(`should thaw, not kill, a standalone CGroup's own processes when the Node process exits${used ? ', also once a container ran in it' : ''}`, async function () {
      const marker = sleepMarker();
      const f = runFixture('cgroup-standalone-exit', [`marker=${marker}`, ...(used ? ['used'] : [])]);
      const { sleepPid, paths } = (await f.firstJson) as { sleepPid: number; paths: string[] };
      try {
        expect(await waitFor(() => !exists(f.child.pid!) || markerProcesses(marker).length === 1, 3000)).to.equal(true);
        // The fixture has exited (its exit thawed the group); the sleep lives on, running.
        expect(await waitFor(() => paths.length > 0 && processState(sleepPid) !== null && !/^[DT]/.test(processState(sleepPid)!), 3000), `state ${processState(sleepPid)}`).to.equal(true);
        expect(markerProcesses(marker)).to.deep.equal([sleepPid]);
        const thawed = () =>
          paths.every((p) =>
            existsSync(join(p, 'freezer.state'))
              ? readFileSync(join(p, 'freezer.state'), 'utf8').trim() === 'THAWED'
              : !existsSync(join(p, 'cgroup.events')) || readFileSync(join(p, 'cgroup.events'), 'utf8').includes('frozen 0'),
          );
        expect(await waitFor(thawed, 3000), 'thawed at exit').to.equal(true);
      } finally {
        process.kill(sleepPid, 'SIGKILL');
      }
      await f.exited;
      // Busy at the exit, so left: gc() removes it now that its owner is gone.
      const report = await gc();
      for (const p of paths) expect(report.cgroups.removed).to.include(p);
    });

    it('should leave no group or fd behind when a worker thread that ran containers is terminated (its mark is the process\'s)', async function () {
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const code = `const { Container } = require(${JSON.stringify(lib)});
        Container.run(['true'], { cgroup: { memory: '64M', pids: 16 } }).then((r) => require('node:worker_threads').parentPort.postMessage(r.status));`;
      const w = new Worker(code, { eval: true });
      expect(await new Promise((r) => w.once('message', r))).to.equal('ok');
      await w.terminate();
      // (The leak check after each test looks for this process's groups and fds.)
      expect(ourCgroups()).to.deep.equal([]);
    });

    // No JavaScript of the worker's is left to remove a running
    // container's group when it ends: the addon does, once init is reaped.
    it('should remove the group of a container still running when its worker is terminated', async function () {
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const code = `const { parentPort } = require('node:worker_threads');
        const { Container } = require(${JSON.stringify(lib)});
        (async () => {
          const c = new Container({ cgroup: { memory: '64M', pids: 16 } });
          await c.start();
          c.exec(['sleep', '1000'], { stdio: 'ignore' });
          parentPort.postMessage({ paths: c.cgroup.paths, init: c.pid });
        })();`;
      const w = new Worker(code, { eval: true });
      const { paths, init } = (await new Promise((r) => w.once('message', r))) as { paths: string[]; init: number };
      expect(paths).to.not.be.empty;
      expect(paths.every((p) => existsSync(p))).to.equal(true);
      await w.terminate();
      expect(exists(init), 'init is gone').to.equal(false);
      expect(paths.filter((p) => existsSync(p))).to.deep.equal([]);
    });

    // Found by the eighteenth review: the addon's kill of a paused
    // container's init never landed (on v1 a frozen process does not die of
    // SIGKILL until thawed), terminate() waited 10 s for it, and the group,
    // frozen with init and its payload in it, stayed as long as the process;
    // and the directories of hierarchies joined after the start (v1: the
    // freezer at pause(), cpuset at update()) were not among those the addon
    // removes, so they stayed too, empty.
    it('should kill and remove a paused, updated container when its worker is terminated', async function () {
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const marker = sleepMarker();
      const code = `const { parentPort } = require('node:worker_threads');
        const { Container } = require(${JSON.stringify(lib)});
        (async () => {
          const c = new Container({ cgroup: { memory: '64M', pids: 16 } });
          await c.start();
          c.exec(['sleep', '${marker}'], { stdio: 'ignore' });
          c.update({ cpuset: '0' });
          await c.pause();
          parentPort.postMessage({ paths: c.cgroup.paths, init: c.pid });
        })();`;
      const w = new Worker(code, { eval: true });
      const { paths, init } = (await new Promise((r) => w.once('message', r))) as { paths: string[]; init: number };
      expect(paths.every((p) => existsSync(p))).to.equal(true);
      await w.terminate();
      expect(exists(init), 'init is gone').to.equal(false);
      expect(await waitFor(() => markerProcesses(marker).length === 0, 2000), 'the paused sleep is gone').to.equal(true);
      expect(paths.filter((p) => existsSync(p))).to.deep.equal([]);
    });

    // Found by the eighteenth review: on v2 the 'oom' watch's
    // memory.events was opened with fs.openSync and closed by the addon. A
    // worker thread tracks the fds fs gives it and closes them again when it
    // ends, whatever those numbers are by then (the owner mark's lock, which
    // keeps gc() off a live owner; here, files of the main thread's).
    it("should not close, when a worker ends, an fd of another's that reuses its 'oom' watch's number", async function () {
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      // fds are the process's, and the main thread's own library work (a
      // pool's refill, a close put off to the next turn) opens and closes
      // some meanwhile: the watch's are told by what they are (a file of
      // the group's, or v1's eventfd), not by being new alone.
      const code = `const { parentPort } = require('node:worker_threads');
        const { readdirSync, readlinkSync } = require('node:fs');
        const { Container } = require(${JSON.stringify(lib)});
        const fds = () => {
          const m = new Map();
          for (const d of readdirSync('/proc/self/fd')) { try { m.set(Number(d), readlinkSync('/proc/self/fd/' + d)); } catch {} }
          return m;
        };
        // A round: a container, its watch armed, destroyed; the numbers its
        // watch had, and those still open. Again on 'again'.
        const round = async () => {
          const c = new Container({ cgroup: { memory: '64M', pids: 16 } });
          await c.start();
          const before = fds();
          c.on('oom', () => {}); // arms the group's watch
          const ours = (t) => t.includes('eventfd') || c.cgroup.paths.some((p) => t.startsWith(p + '/'));
          const armed = [...fds()].filter(([fd, t]) => before.get(fd) !== t && ours(t));
          await c.destroy();
          const now = fds();
          parentPort.postMessage({ armed: armed.map(([fd]) => fd), kept: armed.filter(([fd, t]) => now.get(fd) === t).map(([fd]) => fd) });
        };
        parentPort.on('message', (m) => (m === 'again' ? round() : parentPort.close())); // 'end': it ends of itself
        round();`;
      const w = new Worker(code, { eval: true });
      const mine: number[] = [];
      try {
        // Take the numbers the watch had (lowest free first). Another open
        // of the process's (the main thread's library work) may take them
        // all first; then a round is of no use, and the worker does another.
        let taken: number[] = [];
        for (let i = 0; i < 5 && taken.length === 0; i++) {
          if (i > 0) w.postMessage('again');
          const { armed, kept } = (await new Promise((r) => w.once('message', r))) as { armed: number[]; kept: number[] };
          expect(armed, "the watch's fds").to.not.be.empty;
          expect(kept, 'closed at destroy()').to.deep.equal([]);
          const free = armed.filter((fd) => !isOpen(fd));
          while (mine.length < 1024 && !free.every((fd) => mine.includes(fd))) mine.push(openSync('/dev/null', 'r'));
          taken = free.filter((fd) => mine.includes(fd));
        }
        expect(taken, 'numbers taken, in one of 5 rounds').to.not.be.empty;
        // Its own end, not terminate(): the end where Node closes what it tracked.
        const exited = new Promise((r) => w.once('exit', r));
        w.postMessage('end');
        await exited;
        expect(mine.filter((fd) => !isOpen(fd)), "ours, closed by the worker's end").to.deep.equal([]);
      } finally {
        await w.terminate();
        for (const fd of mine.filter(isOpen)) closeSync(fd);
      }
    });

    // The main thread removes a run's group in the turn after its result; a
    // worker must not (it may be terminated at once, and then nothing of
    // its own removes the group): its Container.run waits, as before.
    it('should have removed a worker\'s group when its Container.run resolves', async function () {
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const leaks = join(__dirname, '..', 'helpers', 'leaks.js');
      const code = `const { parentPort } = require('node:worker_threads');
        const { Container } = require(${JSON.stringify(lib)});
        const { ourCgroups } = require(${JSON.stringify(leaks)});
        (async () => {
          // (The main thread's own groups, its pool's among them, have this pid too.)
          const before = new Set(ourCgroups());
          const left = [];
          for (const cgroup of [{}, { memory: '64M', pids: 16 }]) {
            const r = await Container.run(['true'], { cgroup });
            left.push(r.status, ...ourCgroups().filter((d) => !before.has(d)));
          }
          parentPort.postMessage(left);
        })();`;
      const w = new Worker(code, { eval: true });
      try {
        expect(await new Promise((r) => w.once('message', r))).to.deep.equal(['ok', 'ok']);
      } finally {
        await w.terminate();
      }
    });

    // A process whose groups were all made by workers had no exit hook to
    // let its mark go (a worker's hook ends with the worker): the mark's
    // directory stayed in the parent until a gc().
    for (const mode of ['natural', 'exit', 'terminate']) it(`should leave no owner mark behind when only a worker thread made groups (${mode === 'natural' ? 'the process ends' : mode === 'exit' ? 'process.exit() with the worker alive' : 'the worker terminated, then the process ends'})`, async function () {
      this.timeout(90_000); // its fixture may take up to 45 s to start in the emulated VM
      const f = runFixture('cgroup-worker-exit', [mode]);
      const { status, owner, paths } = (await f.firstJson) as { status: string; owner: string; paths: string[] };
      expect(status).to.equal('ok');
      expect(owner).to.match(/^\d+-\d+$/);
      expect(await f.exited).to.equal(0);
      expect(paths.filter((p) => existsSync(p))).to.deep.equal([]);
      expect(markExists(owner), `${owner}.owner is left`).to.equal(false);
    });

    it('should finish destroy() when pause() is still freezing, and leave nothing', async function () {
      const c = new Container({ cgroup: {} });
      await c.start();
      c.exec(['sh', '-c', 'while :; do :; done'], { stdio: 'ignore' });
      c.exec(['sleep', '100'], { stdio: 'ignore' });
      const paused = c.pause().then(
        () => 'paused',
        (e: IsolateError) => e.code,
      );
      const destroyed = c.destroy().then(() => 'destroyed');
      const hung = new Promise((r) => setTimeout(() => r('hung'), 10_000).unref());
      expect(await Promise.race([destroyed, hung])).to.equal('destroyed');
      expect(await paused).to.be.oneOf(['paused', 'ERR_STATE']);
      expect(c.state).to.equal('destroyed');
    });

    it('should remove groups made below its own when it is destroyed', async function () {
      const c = new Container({ cgroup: { pids: 32 } });
      let paths: string[] = [];
      try {
        await c.start();
        c.exec(['sh', '-c', 'echo started; exec sleep 100'], { stdio: ['ignore', 'pipe', 'ignore'] }).stdout!.resume();
        const top = c.cgroup!.paths[0]!; // (v1: memory's; the payload sees no cpuacct directory to make groups in)
        const sub = join(top, 'made-inside');
        mkdirSync(join(sub, 'deeper'), { recursive: true });
        // One of its processes in the deepest (host pid: the group lists them as the host sees them).
        const sleeping = () => c.cgroup!.procs().find((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('sleep\0'));
        expect(await waitFor(() => sleeping() !== undefined, 5000), 'the sleep runs').to.equal(true);
        writeFileSync(join(sub, 'deeper', 'cgroup.procs'), String(sleeping()));
        paths = c.cgroup!.paths;
      } finally {
        await c.destroy();
      }
      expect(paths).to.not.be.empty;
      expect(paths.filter((p) => existsSync(p) && !pooledCgroupDirs().includes(p))).to.deep.equal([]); // (a v1 cpuacct directory goes back to the pool)
    });

    // Names long enough take the host's path to the deepest group past
    // PATH_MAX: removal by path failed (ENAMETOOLONG, swallowed) and the
    // group stayed for good, gc() included. On v2 the tree below a group is
    // bounded too (cgroup.max.depth and .descendants, which a payload
    // cannot change at its namespace's root).
    it('should list, kill and remove processes in groups below its own, past PATH_MAX, and bound that tree on v2', async function () {
      const c = new Container({ cgroup: { pids: 32 } });
      let paths: string[] = [];
      try {
        await c.start();
        c.exec(['sh', '-c', 'exec sleep 100'], { stdio: 'ignore' });
        const sleeping = () => c.cgroup!.procs().find((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('sleep\0'));
        expect(await waitFor(() => sleeping() !== undefined, 5000), 'the sleep runs').to.equal(true);
        const pid = sleeping()!;
        // 16 levels of 255-character names, made through directory fds.
        const top = c.cgroup!.paths[0]!;
        const fds: number[] = [openSync(top, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)];
        try {
          for (let level = 1; level <= 16; level++) {
            const name = String(level).padStart(255, 'x');
            mkdirSync(`/proc/self/fd/${fds.at(-1)}/${name}`);
            fds.push(openSync(`/proc/self/fd/${fds.at(-1)}/${name}`, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY));
          }
          expect(top.length + 16 * 256).to.be.above(4096);
          if (version() === 2) {
            // One level more is refused (cgroup.max.depth 16); so are more than 256 groups below it.
            expect(() => mkdirSync(`/proc/self/fd/${fds.at(-1)}/too-deep`)).to.throw(/EAGAIN/);
            expect(readFileSync(join(top, 'cgroup.max.descendants'), 'utf8').trim()).to.equal('256');
          }
          writeFileSync(`/proc/self/fd/${fds.at(-1)}/cgroup.procs`, String(pid));
        } finally {
          for (const fd of fds) closeSync(fd);
        }
        // Still the group's: listed, and signalled by kill().
        expect(c.cgroup!.procs()).to.include(pid);
        c.cgroup!.kill('SIGTERM');
        expect(await waitFor(() => !exists(pid), 5000), 'SIGTERM reached the deepest group').to.equal(true);
        paths = c.cgroup!.paths;
      } finally {
        await c.destroy();
      }
      expect(paths.filter((p) => existsSync(p) && !pooledCgroupDirs().includes(p))).to.deep.equal([]);
    });

    // v2 caps a group's memory.low at its ancestors': the parent's, left at
    // 0, made every group's low protect nothing under host pressure.
    // The nineteenth review: Node in its cgroup namespace's root, with a
    // cgroup2 mount of its own (a privileged container on a v2 host) got
    // "not available on this host" for a memory limit, but the host has it:
    // the kernel hands memory on from a group only when no process is in it.
    it("should say why memory is refused when Node runs in its cgroup namespace's root with processes there (v2)", async function () {
      if (version() === 1) return; // v2's rule ("no internal processes")
      const probe = spawnSync('unshare', ['--cgroup', '--mount', 'true']);
      skipUnless(this, probe.status === 0 ? null : `unshare of cgroup and mount namespaces fails here: ${probe.stderr}`);
      const any = new CGroup({}).create();
      const pod = join(dirname(any.paths[0]!), `pod-${process.pid}`);
      await any.destroy();
      mkdirSync(pod);
      const lib = join(__dirname, '..', '..', 'lib', 'index.js');
      const code = `try { new (require(${JSON.stringify(lib)}).Container)({ cgroup: { memory: '64M' } }); console.log('made'); } catch (e) { console.log(e.code + ' ' + e.message); }`;
      try {
        // A pod: a group with processes in it, and a cgroup namespace rooted there.
        const inner = `umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec ${process.execPath} -e "$0"`;
        const r = spawnSync('sh', ['-c', `echo $$ > ${pod}/cgroup.procs && exec unshare --cgroup --mount --pid --fork --mount-proc sh -c '${inner}' "$0"`, code], { encoding: 'utf8', timeout: 60_000 });
        expect(r.stdout, r.stderr).to.match(/^ERR_UNSUPPORTED The memory cgroup controller is not available on this host: \S+ has it but cannot hand it on/);
        expect(r.stdout).to.include('processes run in');
        expect(r.stdout).to.include('cgroup namespace');
      } finally {
        // What the inner Node made there: its parent (and owner mark, gone with it), then the pod.
        for (const n of existsSync(join(pod, 'isolate-kit')) ? readdirSync(join(pod, 'isolate-kit'), { withFileTypes: true }) : []) if (n.isDirectory()) rmdirSync(join(pod, 'isolate-kit', n.name));
        if (existsSync(join(pod, 'isolate-kit'))) rmdirSync(join(pod, 'isolate-kit'));
        rmdirSync(pod);
      }
    });

    it("should keep the parent's memory.low at the sum of its groups' on v2", async function () {
      if (version() === 1) return; // v1's soft limit (memory.low's mapping) has no such cap
      const MiB = 1024 * 1024;
      const any = new CGroup({}).create();
      const parentDir = dirname(any.paths[0]!);
      await any.destroy();
      const low = (dir: string) => Number(readFileSync(join(dir, 'memory.low'), 'utf8').trim());
      // Groups other tests (or processes) have there count too: the parent's is their sum.
      const others = () => readdirSync(parentDir, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== a.name && e.name !== b.name).reduce((n, e) => n + low(join(parentDir, e.name)), 0);
      const a = new CGroup({ memory: { low: '64M' } }).create();
      const b = new CGroup({ memory: { low: '32M' } }).create();
      try {
        expect(low(parentDir)).to.equal(others() + 96 * MiB);
        b.update({ memory: { low: '16M' } });
        expect(low(parentDir)).to.equal(others() + 80 * MiB);
        await a.destroy();
        expect(low(parentDir)).to.equal(others() + 16 * MiB);
      } finally {
        await a.destroy();
        await b.destroy();
      }
      expect(low(parentDir)).to.equal(others());
    });

    /**
     * The script of a uid-0 'unconfined' payload on v2 that mounts its own
     * cgroup2 (in user, cgroup and mount namespaces of its own), moves every
     * process, init too, into a group f below its own and freezes it;
     * `again`: from a group g of its own, over and over.
     */
    function freezeItself(again: boolean): string {
      return [
        'import ctypes, os',
        'libc = ctypes.CDLL(None, use_errno=True)',
        "if libc.unshare(0x10000000 | 0x00020000 | 0x02000000) != 0: raise OSError(ctypes.get_errno(), 'unshare')",
        "os.makedirs('/tmp/cg', exist_ok=True)",
        "if libc.mount(b'none', b'/tmp/cg', b'cgroup2', 0, None) != 0: raise OSError(ctypes.get_errno(), 'mount')",
        "os.mkdir('/tmp/cg/f')",
        ...(again ? ["os.mkdir('/tmp/cg/g')", "with open('/tmp/cg/g/cgroup.procs', 'w') as f: f.write(str(os.getpid()))"] : []),
        "for p in open('/tmp/cg/cgroup.procs').read().split():",
        '    try:',
        "        with open('/tmp/cg/f/cgroup.procs', 'w') as f: f.write(p)",
        '    except OSError: pass',
        ...(again ? ["fd = os.open('/tmp/cg/f/cgroup.freeze', os.O_WRONLY)", 'while True: os.pwrite(fd, b"1", 0)'] : ["with open('/tmp/cg/f/cgroup.freeze', 'w') as f: f.write('1')"]),
      ].join('\n');
    }

    /** Starts `c`, has its payload freeze itself (freezeItself), then runs a command with a 1 s timeout: its result, or a note that it was still pending after 15 s. */
    async function runWhileFrozen(c: Container, again: boolean): Promise<RunResult | string> {
      await c.start();
      c.exec(['python3', '-c', freezeItself(again)], { stdio: 'ignore' });
      const events = () => readFileSync(join(c.cgroup!.paths[0]!, 'f', 'cgroup.events'), 'utf8');
      expect(await waitFor(() => existsSync(join(c.cgroup!.paths[0]!, 'f')) && events().includes('frozen 1'), 10_000), 'frozen itself').to.equal(true);
      return Promise.race([c.run(['echo', 'hi'], { timeout: 1000 }), new Promise<string>((res) => setTimeout(() => res('still pending after 15 s'), 15_000))]);
    }

    // A uid-0 'unconfined' payload on v2 can mount its own cgroup2, move
    // every process (init too) into a group below its own and freeze it:
    // init could then carry out no kill, and an exec'd run's timeout never
    // came. A kill thaws the groups below first.
    it("should end a run on time when the payload froze itself and init in a group below its own (v2)", async function () {
      if (version() === 1) return; // v1 cgroupfs cannot be mounted in a user namespace: no group of its own to freeze
      const c = new Container({ user: { uid: 0 }, seccomp: 'unconfined', cgroup: { pids: 32 } });
      try {
        const r = await runWhileFrozen(c, false);
        expect(typeof r === 'string' ? r : r.status).to.equal('timeout');
      } finally {
        await c.destroy();
      }
    });

    // The same payload freezing that group again as soon as it is thawed:
    // init never got to carry out the kill. The container goes instead.
    it('should end a run on time when the payload keeps freezing itself and init in a group below its own (v2; the container is killed)', async function () {
      if (version() === 1) return; // as above
      const c = new Container({ user: { uid: 0 }, seccomp: 'unconfined', cgroup: { pids: 32 } });
      try {
        const r = await runWhileFrozen(c, true);
        expect(r).to.not.be.a('string');
        const run = r as RunResult;
        // Init, frozen, may never have started the command: it was killed all the same.
        expect(run, JSON.stringify(run)).to.include({ status: 'timeout', timedOut: true, signal: 'SIGKILL' });
        expect(await waitFor(() => c.state === 'stopped', 5000), c.state).to.equal(true);
      } finally {
        await c.destroy();
      }
    });

    it('should give one destroy() to callers at once, and the name back once', async function () {
      const cg = new CGroup({}).create();
      const a = cg.destroy();
      const b = cg.destroy();
      expect(a).to.equal(b);
      await a;
      const x = new CGroup({}).create();
      const y = new CGroup({}).create();
      try {
        expect(x.name).to.not.equal(y.name);
      } finally {
        await x.destroy();
        await y.destroy();
      }
    });

    it('should keep `limits` and the kernel as they were when update() is refused, and refuse it once destroyed', async function () {
      const c = new Container({ cgroup: { memory: '64M', pids: 64 } });
      try {
        await c.start();
        if (version() === 1) {
          // 30 MB the payload holds (no swap here): v1 refuses a limit below it (EBUSY).
          c.exec(['sh', '-c', 'x=$(head -c 30000000 /dev/zero | tr "\\0" a); echo held; sleep 100'], { stdio: ['ignore', 'pipe', 'ignore'] }).stdout!.resume();
          expect(await waitFor(() => (c.stats().memory.current ?? 0) > 30e6, 10_000), 'the payload holds 30 MB').to.equal(true);
          let err: unknown;
          try {
            c.update({ memory: '8M', pids: 20 });
          } catch (e) {
            err = e;
          }
          expect(err).to.be.instanceOf(IsolateError);
          expect((err as IsolateError).option).to.equal('memory.max');
          expect(c.cgroup!.limits.memory!.max).to.equal(64 * 1024 * 1024);
          expect(c.cgroup!.limits.pids).to.equal(64);
          const memDir = c.cgroup!.paths.find((p) => p.includes('/memory/'))!;
          expect(readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8').trim()).to.equal(String(64 * 1024 * 1024));
        }
        c.update({ pids: 40 });
        expect(c.cgroup!.limits.pids).to.equal(40);
      } finally {
        await c.destroy();
      }
      const cg = new CGroup({ pids: 5 }).create();
      await cg.destroy();
      expect(() => cg.update({ pids: 6 })).to.throw(IsolateError, /destroyed/).with.property('code', 'ERR_STATE');
    });

    it('should hold a cpuTime budget when the Node process is pinned to fewer CPUs than the sandbox has', async function () {
      const cpus = Number(readFileSync('/sys/devices/system/cpu/online', 'utf8').trim().split('-')[1] ?? 0) + 1;
      skipUnless(this, cpus >= 2 ? null : 'needs 2 CPUs');
      this.timeout(60_000);
      const f = runFixture('cpu-budget', ['1000'], ['taskset', '-c', '0']);
      const r = (await f.firstJson) as { status: string; limit: string; cpuTimeMs: number; stderr: string };
      await f.exited;
      expect(r.status, r.stderr).to.equal('timeout');
      expect(r.limit).to.equal('cpuTime');
      // Looked at as if for one CPU, two spinners overran it about twice.
      expect(r.cpuTimeMs).to.be.within(1000, 1500);
    });
  });

  describe('a CGroup of its own', function () {
    it('should be shared by containers when the caller creates it, and survive them', async function () {
      const cg = new CGroup({ pids: 64 }).create();
      try {
        const a = await Container.run(['true'], { cgroup: cg });
        const b = await Container.run(['true'], { cgroup: cg });
        expect([a.status, b.status]).to.deep.equal(['ok', 'ok']);
        expect(cg.created).to.equal(true);
        expect(cg.stats().cpu.usageUsec).to.be.above(0);
      } finally {
        await cg.destroy();
      }
      expect(cg.paths).to.deep.equal([]);
    });

    it("should give each run in a shared group only its own CPU time and OOM kills", async function () {
      const cg = new CGroup({ memory: '32M' }).create();
      try {
        // A hog that is OOM-killed, then a spinner: both charged to the group.
        const hog = await Container.run(['sh', '-c', 'x=$(head -c 200M /dev/zero | tr "\\0" a); echo survived'], { cgroup: cg });
        expect(hog.oomKilled).to.equal(true);
        const spin = await Container.run(['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'], { cgroup: cg });
        expect(spin.cpuTimeMs).to.be.above(20);
        const t = await Container.run(['true'], { cgroup: cg });
        expect(t.status).to.equal('ok');
        expect(t.oomKilled).to.equal(false);
        // Not the group's total (the spinner's CPU is in it).
        expect(t.cpuTimeMs).to.be.below(spin.cpuTimeMs! / 2);
        expect(cg.stats().cpu.usageUsec / 1000).to.be.at.least(spin.cpuTimeMs!);
      } finally {
        await cg.destroy();
      }
    });

    it('should refuse a group made by another container while that one runs', async function () {
      const cg = new CGroup({});
      const a = new Container({ cgroup: cg });
      await a.start();
      try {
        const err = await Container.run(['true'], { cgroup: cg }).catch((e: unknown) => e);
        expect((err as IsolateError).code).to.equal('ERR_STATE');
      } finally {
        await a.destroy();
      }
    });

    it('should say which controller a limit needs when the host lacks it', function () {
      if (version() === 2) {
        expect(() => new CGroup({ netClassId: 1 })).to.throw(IsolateError, /netClassId` is cgroup v1 only/);
      } else {
        // A host with net_cls is made to look like one without: its
        // hierarchy is left out of the parsed mounts the parent is resolved
        // from (the same for every parent: both caches are reset after).
        resetParents();
        readCgroupMounts().v1.delete('net_cls');
        try {
          expect(() => new CGroup({ netClassId: 1 }))
            .to.throw(IsolateError, 'The net_cls cgroup controller is not available on this host: no v1 hierarchy of it is mounted')
            .with.property('code', 'ERR_UNSUPPORTED');
        } finally {
          resetParents();
        }
      }
    });
  });
});
