/**
 * The limits' checks against the kernel itself: whatever `new CGroup()` and
 * `update()` take, the kernel takes too, and whatever they refuse is refused
 * before anything is made or changed. Limits are drawn at random (a fixed
 * seed, so a failure repeats; ISOLATE_KIT_FUZZ_SEED and
 * ISOLATE_KIT_FUZZ_CASES to look further) from values at and past every
 * bound the library and the kernel have. Runs on this v1/hybrid host and in
 * the cgroup-v2 VM. It found the kernel's own bound on a CPU quota (2^44 - 1
 * µs), which the checks had not had.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CGroup, IsolateError, type CGroupLimits } from '../../lib';
import { needCgroups } from '../helpers/caps';
import { fuzzSettings, generator, show } from '../helpers/random';

/** A whole block device of this host, as 'major:minor' (io limits need one), if it has any. */
function blockDevice(): string | undefined {
  try {
    return readdirSync('/sys/dev/block').find((d) => !existsSync(join('/sys/dev/block', d, 'partition')));
  } catch {
    return undefined;
  }
}

/** Random limits: values at, inside and past each bound (the library's, the kernel's, the host's). */
function limitsFrom(random: () => number, device: string | undefined): CGroupLimits {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const maybe = (p = 0.5) => random() < p;
  const sizes = [0, 1, 4095, 4096, 4097, '4K', '0.5K', '1M', '64M', '1.5G', '7T', 2 ** 40, 2 ** 50, Number.MAX_SAFE_INTEGER, 2 ** 63, -1, '8P', '1E', 'max', Infinity, '12Q'];
  const size = () => pick(sizes);
  const micros = [-1, 0, 999, 1000, 1001, 50_000, 100_000, 2 ** 31 - 1, 2 ** 32, 2 ** 44 - 1, 2 ** 44, 1e14, Number.MAX_SAFE_INTEGER, 1.5, 'max'];
  const counts = [0, 1, 2, 64, 4_194_303, 4_194_304, 4_194_305, 2 ** 32 - 1, 2 ** 32, 1.5, -1, 'max'];
  const l: Record<string, unknown> = {};
  if (maybe(0.6)) {
    l.memory = maybe(0.4)
      ? size()
      : {
          ...(maybe() ? { max: size() } : {}),
          ...(maybe(0.3) ? { high: size() } : {}),
          ...(maybe(0.3) ? { low: size() } : {}),
          ...(maybe(0.4) ? { swapMax: size() } : {}),
          ...(maybe(0.2) ? { hugetlbMax: maybe() ? size() : { '2M': size() } } : {}),
        };
  }
  if (maybe(0.2)) l.cpus = pick([1e-9, 0.009, 0.01, 0.015, 0.5, 1, 1.999, 2, 2.0001, 64]);
  else if (maybe(0.4)) {
    l.cpu = {
      ...(maybe(0.7) ? { max: maybe(0.1) ? 'max' : { quotaUs: pick(micros), ...(maybe() ? { periodUs: pick([999, 1000, 1001, 100_000, 999_999, 1_000_000, 1_000_001]) } : {}) } } : {}),
      ...(maybe() ? { weight: pick([0, 1, 2, 100, 9999, 10_000, 10_001]) } : {}),
    };
  }
  if (maybe(0.2)) l.cpuset = pick(['0', '1', '0-1', '1-0', '0,1', ' 0 , 1 ', '00', '', 'all', { cpus: '0', mems: '0' }, { mems: '0' }, { mems: '1' }, { cpus: '' }]);
  if (maybe(0.4)) l.pids = pick(counts);
  if (maybe(0.2)) {
    l.io = maybe(0.3)
      ? { weight: pick([0, 1, 10, 100, 10_000, 10_001]) }
      : {
          max: [
            {
              device: pick([device ?? '7:0', device ?? '7:0', '0:0', '1:3', '4095:1048575', '/dev/null']),
              ...(maybe() ? { rbps: size() } : {}),
              ...(maybe() ? { wbps: size() } : {}),
              ...(maybe() ? { riops: pick(counts) } : {}),
              ...(maybe() ? { wiops: pick(counts) } : {}),
            },
          ],
        };
  }
  if (maybe(0.15)) l.devices = [pick(['c 1:3 rwm', 'a', 'b *:* r', 'c 4095:1048575 r', 'c 1048575:1 r', 'c 1048576:1 r', '/dev/null', 'c 1:5', { type: 'c', major: 136, minor: '*', access: 'rw' }])];
  if (maybe(0.1)) l.netClassId = pick([-1, 0, 1, 0x100001, 2 ** 32 - 1, 2 ** 32]);
  return l as CGroupLimits;
}

/** Refused as the checks refuse: an IsolateError naming the option, before anything is made. */
function expectRefusedUpFront(err: unknown, what: string): void {
  expect(err, what).to.be.instanceOf(IsolateError);
  const e = err as IsolateError;
  expect(['ERR_INVALID_OPTION', 'ERR_UNSUPPORTED', 'ERR_PERMISSION'], `${what}: ${e.code} ${e.message}`).to.include(e.code);
  expect(e.option, `${what}: ${e.message}`).to.be.a('string');
}

describe('cgroup limits against the kernel', function () {
  this.timeout(300_000);
  before(function () {
    needCgroups(this);
  });

  it('should make every group whose limits it takes, take every update it takes, and change nothing for one it refuses', async function () {
    const { seed, cases } = fuzzSettings(200);
    const random = generator(seed);
    const device = blockDevice();
    let made = 0;
    let refused = 0;
    for (let i = 0; i < cases; i++) {
      const limits = limitsFrom(random, device);
      const what = `seed ${seed}, case ${i}: ${show(limits)}`;
      let cg: CGroup;
      try {
        cg = new CGroup(limits);
      } catch (err) {
        expectRefusedUpFront(err, what);
        refused++;
        continue;
      }
      try {
        cg.create();
      } catch (err) {
        expect.fail(`${what}: taken by new CGroup(), then refused by the kernel: ${(err as Error).message}`);
      }
      made++;
      try {
        for (let u = 0; u < 3; u++) {
          const update = limitsFrom(random, device);
          const before = cg.limits;
          try {
            cg.update(update);
          } catch (err) {
            expectRefusedUpFront(err, `${what}, update ${show(update)}`);
            expect(cg.limits, `${what}: a refused update ${show(update)} changed the limits`).to.deep.equal(before);
          }
        }
      } finally {
        await cg.destroy();
      }
      expect(cg.paths).to.deep.equal([]);
    }
    // The draw covers both sides (a change to it that made every case one kind would test nothing).
    expect(made, `groups made of ${cases}`).to.be.above(cases / 5);
    expect(refused, `limits refused of ${cases}`).to.be.above(cases / 5);
  });
});
