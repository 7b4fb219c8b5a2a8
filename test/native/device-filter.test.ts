/**
 * csrc/cgroup_devices.c on its own, against the kernel: the C checker
 * (test/native/device_filter_check.c) swaps BPF device filters under a
 * running process and checks every access after each swap, the AND of
 * several attached programs, and 2,000 swaps without a wrong answer. Runs on
 * the cgroup v2 mount (the unified hierarchy of a hybrid host works too).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { readCgroupMounts } from '../../lib/cgroup/host';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { testDisk, type TestDisk } from '../fixtures/disk';

const root = join(__dirname, '..', '..', '..');

describe('cgroup v2 device filter (BPF), from C', function () {
  this.timeout(120_000);
  before(function () {
    needContainers(this); // root
  });

  it('should allow exactly the rules, deny the rest, and swap filters safely', function () {
    const v2 = readCgroupMounts().v2Mount;
    skipUnless(this, v2 ? null : 'no cgroup2 mount on this host');
    const cc = spawnSync('gcc', ['--version']);
    skipUnless(this, cc.status === 0 ? null : 'no gcc to build the checker');
    const disk = testDisk();
    skipUnless(this, typeof disk === 'string' ? disk : null);
    const dev = disk as TestDisk;
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      const bin = join(dir, 'device_filter_check');
      execFileSync('gcc', ['-std=gnu11', '-O1', '-Wall', '-Wextra', '-I', join(root, 'csrc'), '-o', bin,
        join(root, 'test', 'native', 'device_filter_check.c'), join(root, 'csrc', 'cgroup_devices.c')]);
      const r = spawnSync(bin, [v2!, dev.path], { encoding: 'utf8', timeout: 100_000 });
      expect(r.stdout, r.stderr).to.match(/ALL PASSED: 0 failure\(s\)/);
      expect(r.status).to.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      dev.release();
    }
  });
});
