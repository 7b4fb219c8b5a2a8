/**
 * ISOLATE_KIT_NO_ZYGOTE=1: the addon clones and execs init itself for each
 * container instead of asking the zygote. The fallback path must give the
 * same container: checked from a child Node process started with it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { needContainers } from '../helpers/caps';

const lib = join(__dirname, '..', '..', 'lib');

describe('spawn without the zygote (ISOLATE_KIT_NO_ZYGOTE=1)', function () {
  before(function () {
    needContainers(this);
  });

  it('should run containers with init exec\'d directly, limits and errors included', function () {
    const script = `
      const { Container } = require(${JSON.stringify(lib)});
      (async () => {
        const ok = await Container.run(['sh', '-c', 'echo $$; cat /proc/1/comm; id -u; hostname']);
        const slow = await Container.run(['sh', '-c', 'sleep 5 & while :; do :; done'], { timeout: 300 });
        const bad = await Container.run(['/nope']);
        // The direct path joins the cgroup by writing cgroup.procs (no clone3 with CLONE_VM).
        const v2 = require('fs').existsSync('/sys/fs/cgroup/cgroup.controllers');
        const capped = await Container.run(['sh', '-c', 'cat /proc/self/cgroup | sort -u | cut -d: -f3 | sort -u; cat ' + (v2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max')], { cgroup: { pids: 7, memory: '16M' } });
        const hog = await Container.run(['sh', '-c', 'x=$(head -c 100M /dev/zero | tr "\\\\0" a)'], { cgroup: { memory: '16M' } });
        const kids = require('fs').readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((d) => {
          try { return require('fs').readFileSync('/proc/' + d + '/comm', 'utf8').trim() === 'isolate-kit-zyg'
            && require('fs').readFileSync('/proc/' + d + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(process.pid); } catch { return false; }
        });
        console.log(JSON.stringify({ ok: ok.stdout, slow: [slow.status, slow.cpuTimeMs > 100], bad: bad.error.code, capped: capped.stdout, hog: hog.status, zygotes: kids.length }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ISOLATE_KIT_NO_ZYGOTE: '1' }, encoding: 'utf8', timeout: 30_000 }));
    expect(out).to.deep.equal({ ok: '2\nisolate-kit-ini\n65534\nisolate-kit\n', slow: ['timeout', true], bad: 'ERR_EXEC_FAILED', capped: '/\n7\n', hog: 'oom', zygotes: 0 });
  });
});
