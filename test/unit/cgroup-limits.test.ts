/** CGroup limits: parsing, exact messages, v1 conversions and the mount table reader. Creates nothing. */
import { expect } from 'chai';
import { IsolateError } from '../../lib';
import { readCgroupMounts, ownCgroups } from '../../lib/cgroup/host';
import { compact, controllersFor, devNumbers, ioWeightToBlkio, mergeLimits, normalizeLimits, parseCpuList, weightToShares } from '../../lib/cgroup/limits';
import { splitUsage, usageAll } from '../../lib/cgroup/v1';
import { plainLimits } from '../../lib/cgroup/recent-limits';

const host = { cpus: [0, 1], mems: [0] };
const MiB = 1024 * 1024;

function fails(limits: unknown, message: string | RegExp, option?: string, code = 'ERR_INVALID_OPTION'): void {
  let err: unknown;
  try {
    normalizeLimits(limits, host);
  } catch (e) {
    err = e;
  }
  expect(err, 'should have failed').to.be.instanceOf(IsolateError);
  const e = err as IsolateError;
  expect(e.code).to.equal(code);
  if (typeof message === 'string') expect(e.message).to.equal(message);
  else expect(e.message).to.match(message);
  if (option) expect(e.option).to.equal(option);
}

describe('CGroup limits', function () {
  it('should take the short forms users type', function () {
    expect(normalizeLimits({ memory: '256M', cpus: 0.5, pids: 64, cpuset: '0-1' }, host)).to.deep.equal({
      memory: { max: 256 * MiB },
      cpu: { max: { quotaUs: 50000, periodUs: 100000 } },
      cpuset: { cpus: '0,1' },
      pids: 64,
    });
    expect(normalizeLimits({ memory: '1.5G' }, host).memory!.max).to.equal(1.5 * 1024 * MiB);
    expect(normalizeLimits({ memory: 'max', pids: 'max' }, host)).to.deep.equal({ memory: { max: null }, pids: null });
    expect(normalizeLimits({}, host)).to.deep.equal({});
  });

  it('should take huge page limits for every page size or per size, by the kernel\'s names, rounded down to whole pages', function () {
    const huge = { ...host, hugePages: [{ name: '2MB', bytes: 2 * MiB }, { name: '1GB', bytes: 1024 * MiB }] };
    const norm = (hugetlbMax: unknown) => normalizeLimits({ memory: { max: '1G', hugetlbMax } }, huge).memory!.hugetlbMax;
    expect(norm(0)).to.deep.equal({ '2MB': 0, '1GB': 0 });
    expect(norm('5M')).to.deep.equal({ '2MB': 4 * MiB, '1GB': 0 });
    expect(norm('max')).to.deep.equal({ '2MB': null, '1GB': null });
    expect(norm({ '2M': '64M', '1GB': 'max' })).to.deep.equal({ '2MB': 64 * MiB, '1GB': null });
    expect(norm({ 2097152: 0 })).to.deep.equal({ '2MB': 0 });
    expect(() => norm({ '4M': '8M' }))
      .to.throw(IsolateError, '`memory.hugetlbMax` names page size "4M", which this host does not have (it has 2M, 1G)')
      .with.property('option', 'memory.hugetlbMax.4M');
    expect(() => norm({ '2M': -1 })).to.throw(IsolateError, /`memory.hugetlbMax.2M`/);
    expect(() => normalizeLimits({ memory: { hugetlbMax: 0 } }, host))
      .to.throw(IsolateError, '`memory.hugetlbMax`: this kernel has no huge pages (no /sys/kernel/mm/hugepages)')
      .with.property('code', 'ERR_UNSUPPORTED');
    // The hugetlb controller only where a size is bounded: 'max' asks nothing of a host without it.
    expect(controllersFor({ memory: { max: 1, hugetlbMax: { '2MB': 0, '1GB': null } } })).to.deep.equal(['memory', 'hugetlb']);
    expect(controllersFor({ memory: { max: 1, hugetlbMax: { '2MB': null, '1GB': null } } })).to.deep.equal(['memory']);
    // An update of one size keeps the others.
    expect(mergeLimits({ memory: { max: 1, hugetlbMax: { '2MB': 0, '1GB': 0 } } }, { memory: { hugetlbMax: { '2MB': 2 * MiB } } }).memory).to.deep.equal({
      max: 1,
      hugetlbMax: { '2MB': 2 * MiB, '1GB': 0 },
    });
  });

  it('should take the structured forms named after the v2 files', function () {
    expect(
      normalizeLimits(
        {
          memory: { max: '1G', high: '768M', low: '64M', swapMax: 0 },
          cpu: { max: { quotaUs: 20000, periodUs: 50000 }, weight: 200 },
          cpuset: { cpus: '1', mems: '0' },
          io: { weight: 500, max: [{ device: '7:0', rbps: '10M', wiops: 100 }] },
          devices: ['c 1:3 rwm', 'c *:* m', { type: 'b', major: 7, minor: '*', access: 'r' }, 'a'],
          netClassId: 0x100001,
        },
        host,
      ),
    ).to.deep.equal({
      memory: { max: 1024 * MiB, high: 768 * MiB, low: 64 * MiB, swapMax: 0 },
      cpu: { max: { quotaUs: 20000, periodUs: 50000 }, weight: 200 },
      cpuset: { cpus: '1', mems: '0' },
      io: { weight: 500, max: [{ major: 7, minor: 0, device: '7:0', rbps: 10 * MiB, wiops: 100 }] },
      devices: [
        { type: 'c', major: 1, minor: 3, access: 'rwm' },
        { type: 'c', major: -1, minor: -1, access: 'm' },
        { type: 'b', major: 7, minor: -1, access: 'r' },
        { type: 'a', major: -1, minor: -1, access: 'rwm' },
      ],
      netClassId: 0x100001,
    });
  });

  it('should resolve device paths to their numbers', function () {
    expect(normalizeLimits({ devices: ['/dev/null', { path: '/dev/zero', access: 'r' }] }, host).devices).to.deep.equal([
      { type: 'c', major: 1, minor: 3, access: 'rw' },
      { type: 'c', major: 1, minor: 5, access: 'r' },
    ]);
  });

  it('should reject bad values with exact messages naming the field', function () {
    fails({ memory: '12Q' }, 'Expected the `memory` option to be a byte count (a non-negative integer, or a string like "64M" or "1.5G"), got `"12Q"` (string)', 'memory');
    fails({ memory: -5 }, /^Expected the `memory` option to be a byte count/, 'memory');
    fails({ memory: 0 }, "Expected the `memory` option to be a size of at least 4096 bytes (one page), or 'max', got `0` (number)", 'memory');
    fails({ memory: '0.5' }, "Expected the `memory` option to be a size of at least 4096 bytes (one page), or 'max', got `\"0.5\"` (string)", 'memory');
    fails({ memory: { high: '4095' } }, "Expected the `memory.high` option to be a size of at least 4096 bytes (one page), or 'max', got `\"4095\"` (string)", 'memory.high');
    fails({ pids: 2 ** 31 }, "Expected the `pids` option to be an integer from 1 to 4194304, or 'max', got `2147483648` (number)", 'pids');
    fails({ memory: { max: '1G', hihg: '1G' } }, 'Unknown `memory` field `hihg` (misspelled?); known: max, high, low, swapMax, hugetlbMax', 'memory.hihg');
    fails({ pids: -1 }, "Expected the `pids` option to be an integer from 1 to 4194304, or 'max', got `-1` (number)", 'pids');
    fails({ pids: 1.5 }, /^Expected the `pids` option/, 'pids');
    fails({ cpus: -1 }, 'Expected the `cpus` option to be a positive number of CPUs (at most 2 here), got `-1` (number)', 'cpus');
    fails({ cpus: 3 }, '`cpus` is 3, but this host has 2 CPUs online', 'cpus');
    fails({ cpus: 0.001 }, 'Expected the `cpus` option to be at least 0.01, got `0.001` (number)', 'cpus');
    fails({ cpus: 1, cpu: { max: { quotaUs: 1000 } } }, '`cpus` and `cpu.max` say the same thing; give one', 'cpus');
    fails({ cpu: { weight: 0 } }, 'Expected the `cpu.weight` option to be an integer from 1 to 10000, got `0` (number)', 'cpu.weight');
    fails({ cpu: { max: { quotaUs: 10, periodUs: 100000 } } }, 'Expected the `cpu.max.quotaUs` option to be microseconds from 1000 to 17592186044415, got `10` (number)', 'cpu.max.quotaUs');
    // The kernel's own bound (max_cfs_runtime): above it the write fails, so it is refused here, before anything is made.
    expect(normalizeLimits({ cpu: { max: { quotaUs: 2 ** 44 - 1 } } }, host).cpu!.max).to.deep.equal({ quotaUs: 2 ** 44 - 1, periodUs: 100000 });
    fails({ cpu: { max: { quotaUs: 2 ** 44 } } }, 'Expected the `cpu.max.quotaUs` option to be microseconds from 1000 to 17592186044415, got `17592186044416` (number)', 'cpu.max.quotaUs');
    fails({ cpuset: '0-3' }, '`cpuset` names CPUs 2-3, which this host does not have online (it has 0-1)', 'cpuset');
    fails({ cpuset: '0,5,7-999' }, '`cpuset` names CPUs 5,7-999, which this host does not have online (it has 0-1)', 'cpuset');
    fails({ cpuset: { mems: '1' } }, '`cpuset.mems` names memory node 1, which this host does not have online (it has 0)', 'cpuset.mems');
    fails({ cpuset: 'all' }, "Expected the `cpuset` option to be a CPU list like '0-1,3', got `\"all\"` (string)", 'cpuset');
    fails({ io: { max: [{ device: '/dev/null', rbps: '1M' }] } }, '`io.max[0].device`: /dev/null is not a block device', 'io.max[0].device');
    fails({ io: { max: [{ device: '/nope', rbps: '1M' }] } }, '`io.max[0].device`: `"/nope"` (string) cannot be read: ENOENT', 'io.max[0].device');
    fails({ devices: ['x 1:3 rwm'] }, "Expected the `devices[0]` option to be a rule like 'c 1:3 rwm', 'a', or a device path, got `\"x 1:3 rwm\"` (string)", 'devices[0]');
    fails({ devices: ['c 1:3 rwx'] }, /^Expected the `devices\[0\]` option/, 'devices[0]');
    fails({ netClassId: -1 }, 'Expected the `netClassId` option to be an integer from 0 to 4294967295, got `-1` (number)', 'netClassId');
    fails({ memroy: '1G' }, 'Unknown `cgroup` field `memroy` (misspelled?); known: memory, cpus, cpu, cpuset, pids, io, devices, netClassId', 'cgroup.memroy');
    fails('64M', "Expected the `cgroup` option to be an object of limits (or a CGroup), got `\"64M\"` (string)", 'cgroup');
  });

  it('should convert to v1 values as runc does', function () {
    expect(weightToShares(1)).to.equal(2);
    expect(weightToShares(10000)).to.equal(262144);
    expect(weightToShares(100)).to.equal(2597);
    expect(ioWeightToBlkio(1)).to.equal(10);
    expect(ioWeightToBlkio(10000)).to.equal(1000);
  });

  it('should merge an update over the limits in force', function () {
    const base = normalizeLimits({ memory: { max: '1G', low: '1M' }, pids: 10, io: { max: [{ device: '7:0', rbps: 1 }] } }, host);
    const next = normalizeLimits({ memory: '2G', io: { max: [{ device: '7:0', wbps: 2 }, { device: '7:1', rbps: 3 }] } }, host);
    expect(mergeLimits(base, next)).to.deep.equal({
      memory: { max: 2048 * MiB, low: MiB },
      pids: 10,
      io: {
        max: [
          { major: 7, minor: 0, device: '7:0', rbps: 1, wbps: 2 },
          { major: 7, minor: 1, device: '7:1', rbps: 3 },
        ],
      },
    });
  });

  it('should parse CPU lists and device numbers', function () {
    expect(parseCpuList('cpus', '0-2, 5,7-8')).to.deep.equal([0, 1, 2, 5, 7, 8]);
    expect(compact([0, 1, 2, 5, 7, 8])).to.equal('0-2,5,7-8');
    expect(devNumbers(0x0103)).to.deep.equal([1, 3]);
    expect(devNumbers((259 << 8) | 0 | (1 << 20))).to.deep.equal([259, 256]);
  });
});

describe('limits kept for the next CGroup (recent-limits.ts)', function () {
  it('should key plain data exactly, and copy it', function () {
    const a = plainLimits({ memory: '64M', pids: 64 })!;
    expect(a.copy).to.deep.equal({ memory: '64M', pids: 64 });
    // Each difference is another key: a value, its type, undefined against absent, order of keys.
    const keys = [
      { memory: '64M', pids: 64 },
      { memory: '64M', pids: 65 },
      { memory: '64M', pids: '64' },
      { memory: '64M', pids: 64, cpus: undefined },
      { pids: 64, memory: '64M' },
      { memory: { max: '64M' }, pids: 64 },
      { memory: '64M', pids: null },
      { memory: '64M', pids: true },
      {},
    ].map((l) => plainLimits(l)!.key);
    expect(new Set(keys).size).to.equal(keys.length);
    expect(plainLimits({ memory: '64M', pids: 64 })!.key).to.equal(a.key);
  });

  it('should keep nothing that is not plain data, or that names devices or io', function () {
    for (const l of [
      { pids: NaN },
      { pids: Infinity },
      { pids: -0 },
      { pids: 10n },
      { memory: { hugetlbMax: ['2MB'] } },
      { memory: new (class Limits {})() },
      { memory: () => '64M' },
      { devices: ['c 1:3 rwm'] },
      { io: { weight: 100 } },
      JSON.parse('{"__proto__": {"pids": 1}}'),
      // Read by normalizeLimits() from the object given, left out of a copy of its keys:
      Object.defineProperty({}, 'memory', { value: '32M', enumerable: false }),
      { pids: 10, memory: Object.defineProperty({}, 'max', { value: '32M', enumerable: false }) },
      { pids: 10, [Symbol('x')]: 1 },

      { memory: { a: { b: { c: { d: 1 } } } } },
      null,
      '64M',
    ]) {
      expect(plainLimits(l), String(JSON.stringify(l, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)))).to.equal(undefined);
    }
  });

  it('should read a getter once, into the copy the limits are read from', function () {
    let n = 0;
    const limits = {
      get pids() {
        n++;
        return n === 1 ? 10 : 20;
      },
    };
    const p = plainLimits(limits)!;
    expect(p.copy).to.deep.equal({ pids: 10 });
    expect(p.key).to.equal(plainLimits({ pids: 10 })!.key);
    expect(n).to.equal(1);
    // io and devices are told from the copy too: one look, not a first one
    // that says nothing and a second that gives the copy a value.
    let m = 0;
    const io = {
      get io() {
        return m++ === 0 ? undefined : { weight: 100 };
      },
    };
    expect(plainLimits(io)?.copy ?? {}).to.deep.equal({ io: undefined });
    expect(m).to.equal(1);
    let d = 0;
    const devices = {
      get io() {
        return d++ === 0 ? { weight: 100 } : undefined;
      },
    };
    expect(plainLimits(devices)).to.equal(undefined);
    expect(d).to.equal(1);
  });
});

describe('cgroup mount table', function () {
  const line = (id: number, point: string, type: string, opts: string, root = '/') => `${id} 1 0:${id} ${root} ${point} rw,relatime - ${type} ${type} ${opts}`;

  it('should tell v2, hybrid and v1 apart from the mounts alone', function () {
    const v2 = readCgroupMounts([line(30, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate')].join('\n'));
    expect(v2.layout).to.equal('v2');
    expect(v2.v2Mount).to.equal('/sys/fs/cgroup');
    const hybrid = readCgroupMounts(
      [
        line(32, '/sys/fs/cgroup/cpu,cpuacct', 'cgroup', 'rw,cpu,cpuacct'),
        line(33, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'),
        line(34, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,name=systemd'),
        line(35, '/sys/fs/cgroup/unified', 'cgroup2', 'rw'),
      ].join('\n'),
    );
    expect(hybrid.layout).to.equal('hybrid');
    expect([...hybrid.v1.entries()]).to.deep.equal([
      ['cpu', '/sys/fs/cgroup/cpu,cpuacct'],
      ['cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
      ['memory', '/sys/fs/cgroup/memory'],
    ]);
    const v1 = readCgroupMounts(line(33, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory'));
    expect(v1.layout).to.equal('v1');
    // A bind of a sub-cgroup (a container's view) is not a hierarchy we can use.
    expect(readCgroupMounts(line(30, '/sys/fs/cgroup', 'cgroup2', 'rw', '/docker/abc')).layout).to.equal('none');
  });

  it('should find the tmpfs that holds every v1 hierarchy (what a container view binds), and only then', function () {
    const tmpfs = `29 1 0:29 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755`;
    const memory = line(33, '/sys/fs/cgroup/memory', 'cgroup', 'rw,memory');
    const pids = line(34, '/sys/fs/cgroup/pids', 'cgroup', 'rw,pids');
    expect(readCgroupMounts([tmpfs, memory, pids].join('\n')).v1Root).to.equal('/sys/fs/cgroup');
    // No tmpfs there, or a hierarchy mounted elsewhere: a view of its own.
    expect(readCgroupMounts([memory, pids].join('\n')).v1Root).to.equal(undefined);
    expect(readCgroupMounts([tmpfs, memory, line(34, '/cgroup/pids', 'cgroup', 'rw,pids')].join('\n')).v1Root).to.equal(undefined);
    expect(readCgroupMounts([tmpfs, line(30, '/sys/fs/cgroup', 'cgroup2', 'rw')].join('\n')).v1Root).to.equal(undefined);
  });

  it("should read this process's cgroups", function () {
    const m = ownCgroups('4:memory:/a/b\n1:cpu,cpuacct:/c\n0::/user.slice/x.scope\n');
    expect(m.get('memory')).to.equal('/a/b');
    expect(m.get('cpuacct')).to.equal('/c');
    expect(m.get('')).to.equal('/user.slice/x.scope');
  });
});

describe('v1 CPU figures', function () {
  it('should split the exact usage as the sampled user and system times split, as cputime_adjust() does', function () {
    // A spinner: more user time sampled than it used; the split keeps the usage.
    expect(splitUsage({ usage: 274_913_000, user: 320_000_000, system: 0 })).to.deep.equal({ user: 274_913_000 });
    expect(splitUsage({ usage: 1_000_000, user: 30, system: 10 })).to.deep.equal({ user: 750_000 });
    expect(splitUsage({ usage: 1_000_000, user: 0, system: 10 })).to.deep.equal({ user: 0 });
    // No tick sampled (a short run): all of it user time.
    expect(splitUsage({ usage: 5_000, user: 0, system: 0 })).to.deep.equal({ user: 5_000 });
  });

  it('should sum cpuacct.usage_all over the CPUs', function () {
    expect(usageAll('cpu user system\n0 100 20\n1 5 7\n')).to.deep.equal({ user: 105, system: 27 });
    expect(usageAll(undefined)).to.deep.equal({ user: 0, system: 0 });
  });
});
