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
        const kids = require('fs').readdirSync('/proc').filter((d) => /^\\d+$/.test(d)).filter((d) => {
          try { return require('fs').readFileSync('/proc/' + d + '/comm', 'utf8').trim() === 'isolate-kit-zyg'
            && require('fs').readFileSync('/proc/' + d + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(process.pid); } catch { return false; }
        });
        console.log(JSON.stringify({ ok: ok.stdout, slow: [slow.status, slow.cpuTimeMs > 100], bad: bad.error.code, zygotes: kids.length }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ISOLATE_KIT_NO_ZYGOTE: '1' }, encoding: 'utf8', timeout: 30_000 }));
    expect(out).to.deep.equal({ ok: '2\nisolate-kit-ini\n65534\nisolate-kit\n', slow: ['timeout', true], bad: 'ERR_EXEC_FAILED', zygotes: 0 });
  });
});
