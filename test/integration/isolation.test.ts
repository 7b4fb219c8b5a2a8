/**
 * What the payload sees, checked from inside the sandbox with the default
 * options: its own pid namespace with init as PID 1, hostname, network,
 * read-only host root, private /tmp, masked /proc paths, no capabilities.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from '../../lib';
import { MASKED_PATHS } from '../../lib/filesystem';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { waitForOutput } from '../fixtures/procs';

async function sh(script: string, options: Parameters<typeof Container.run>[1] = {}) {
  const r = await Container.run(['sh', '-c', script], { timeout: 10_000, ...options });
  if (r.status === 'error') throw r.error;
  return r;
}

describe('Container isolation (default options)', function () {
  before(function () {
    needContainers(this);
  });

  it('should run the payload as pid 2 under our init as pid 1, with no host pid visible', async function () {
    const r = await sh('echo $$; cat /proc/1/comm 2>&1; ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "');
    const [self, initComm, pids] = r.stdout.split('\n');
    expect(self).to.equal('2');
    // init is not dumpable: the payload cannot even read its comm's owner details, but comm is world-readable
    expect(initComm).to.match(/isolate|memfd/);
    const visible = pids!.trim().split(' ').map(Number);
    expect(visible).to.include(1);
    expect(visible.every((p) => p < 20), `pids seen: ${pids}`).to.equal(true);
    expect(visible).to.not.include(process.pid);
  });

  it('should give the container its own hostname', async function () {
    const r = await sh('hostname; cat /proc/sys/kernel/hostname');
    expect(r.stdout).to.equal('isolate-kit\nisolate-kit\n');
    const named = await sh('hostname', { hostname: 'judge-7' });
    expect(named.stdout).to.equal('judge-7\n');
    expect(hostname()).to.not.equal('judge-7');
  });

  it('should have only a loopback interface, up', async function () {
    const r = await sh('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "; cat /sys/class/net/lo/operstate; ls /sys/class/net');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal('lo');
    expect(lines).to.have.length(3);
    expect(lines[1]).to.match(/unknown|up/);
    expect(lines[2]).to.equal('lo');
  });

  it('should reach its own loopback and nothing of the host', async function () {
    const r = await sh(
      'python3 -c "import socket; s=socket.socket(); s.bind((\'127.0.0.1\', 0)); s.listen(); c=socket.create_connection(s.getsockname()); print(\'loopback ok\')"',
    );
    expect(r.stdout).to.equal('loopback ok\n');
  });

  // netns_prepare.c says why: the first segment on an empty receive queue
  // is charged past a memory limit, and the default buffer sets its size.
  it("should start TCP receive buffers at 16 KiB in its own network, made ahead or by init, and leave the host's default", async function () {
    const host = readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/);
    // Four at once: the addon keeps two namespaces ready, so init makes some.
    const runs = await Promise.all([1, 2, 3, 4].map(() => sh('cat /proc/sys/net/ipv4/tcp_rmem')));
    const [min, def, max] = host.map(Number) as [number, number, number];
    const lowered = def > 16384 ? Math.max(min, 16384) : def;
    for (const r of runs) expect(r.stdout.trim().split(/\s+/).map(Number)).to.deep.equal([min, lowered, Math.max(max, lowered)]);
    const shared = await Container.run(['cat', '/proc/sys/net/ipv4/tcp_rmem'], { network: 'host' });
    expect(shared.stdout.trim().split(/\s+/)).to.deep.equal(host);
    expect(readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/)).to.deep.equal(host);
  });

  it('should see the host root read-only, nosuid and nodev', async function () {
    const r = await sh('touch /etc/isolate-kit-probe 2>&1; touch /usr/x 2>&1; grep " / / " /proc/self/mountinfo');
    expect(r.stdout).to.match(/Read-only file system/);
    expect(r.stdout.split('\n').filter((l) => l.includes('Read-only')).length).to.equal(2);
    expect(r.stdout).to.match(/ro,nosuid,nodev/);
  });

  it('should give it a private, writable, size-limited /tmp', async function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      writeFileSync(join(dir, 'host-secret'), 'x');
      const r = await sh(`ls ${dir} 2>&1; echo inside > /tmp/file && cat /tmp/file; df -k /tmp | tail -1 | tr -s " " | cut -d" " -f2`);
      const [ls, content, size] = r.stdout.trim().split('\n');
      expect(ls).to.match(/No such file/);
      expect(content).to.equal('inside');
      expect(Number(size)).to.equal(64 * 1024);
      expect(() => readFileSync('/tmp/file', 'utf8')).to.throw();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should mask runc\'s masked paths and keep /proc/sys read-only', async function () {
    const r = await sh(
      'cat /proc/kcore 2>&1 | wc -c; cat /proc/keys | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname; grep " /proc/sys " /proc/self/mountinfo; grep -E " /proc/(keys|timer_list) " /proc/self/mountinfo',
    );
    const lines = r.stdout.trim().split('\n');
    expect(Number(lines[0])).to.be.lessThan(200); // absent or empty, never kernel memory
    expect(lines[1]).to.equal('0');
    expect(lines[2]).to.equal('0');
    expect(lines[3]).to.match(/ \/proc\/sys ro,nosuid,nodev,noexec/);
    // A masked file is /dev/null bound on it, read-only, nosuid, noexec (init clones it when used).
    expect(lines.slice(4)).to.have.length(['/proc/keys', '/proc/timer_list'].filter((f) => existsSync(f)).length);
    for (const l of lines.slice(4)) expect(l).to.match(/ \/proc\/(keys|timer_list) ro,nosuid,[^ ]*noexec/);
    // the shell reports a failed redirection on its own stderr
    expect(r.stderr).to.match(/Read-only file system|Permission denied/);
  });

  // Its files are 0666: any payload added pressure triggers on the host's
  // figures, each a kernel allocation charged to no group.
  it('should keep /proc/pressure read-only, for nobody and uid 0, and readable', async function () {
    skipUnless(this, existsSync('/proc/pressure/cpu') ? null : 'no /proc/pressure on this kernel (psi=0 or no CONFIG_PSI)');
    const script = 'for f in cpu io memory; do [ -e /proc/pressure/$f ] || continue; echo "some 150000 2000000" > /proc/pressure/$f && echo "wrote $f"; done; head -1 /proc/pressure/cpu; grep " /proc/pressure " /proc/self/mountinfo';
    for (const user of [undefined, { uid: 0 }]) {
      const r = await sh(script, user ? { user } : {});
      expect(r.stdout, JSON.stringify(user)).to.not.match(/wrote/);
      expect(r.stderr).to.match(/Read-only file system/);
      expect(r.stdout).to.match(/^some avg10=/m);
      expect(r.stdout).to.match(/ \/proc\/pressure ro,nosuid,nodev,noexec/);
    }
  });

  // Every tmpfs is a superblock, and the most superblocks a host ever had
  // at once makes each memory cgroup made after it dearer, for good
  // (docs/cgroup-cost.md): the masked directories share one empty tmpfs.
  it('should mask every masked directory with one read-only tmpfs, not one each', async function () {
    const dirs = MASKED_PATHS.filter((p) => existsSync(p) && statSync(p).isDirectory());
    skipUnless(this, dirs.length >= 2 ? null : `fewer than two of runc's masked directories exist on this host (${dirs.join(', ') || 'none'})`);
    const r = await sh(`for d in ${dirs.join(' ')}; do grep " $d " /proc/self/mountinfo; done; for d in ${dirs.join(' ')}; do touch $d/x 2>/dev/null && echo written; mkdir $d/y 2>/dev/null && echo made; done; ls -A ${dirs.join(' ')}`);
    const lines = r.stdout.trim().split('\n').filter((l) => l !== '' && !l.endsWith(':'));
    const mounts = lines.slice(0, dirs.length);
    expect(mounts).to.have.length(dirs.length);
    for (const m of mounts) expect(m).to.match(/ ro,nosuid,nodev,noexec[, ].* - tmpfs tmpfs ro,/);
    // One device: one superblock (field 3 of mountinfo is its major:minor).
    expect(new Set(mounts.map((m) => m.split(' ')[2])).size, mounts.join('\n')).to.equal(1);
    expect(lines.slice(dirs.length), 'nothing written, made or listed').to.deep.equal([]);
  });

  it('should drop every capability and set no_new_privs', async function () {
    const r = await sh('grep -E "^(Cap|NoNewPrivs)" /proc/self/status');
    expect(r.stdout).to.equal(
      [
        'CapInh:\t0000000000000000',
        'CapPrm:\t0000000000000000',
        'CapEff:\t0000000000000000',
        'CapBnd:\t0000000000000000',
        'CapAmb:\t0000000000000000',
        'NoNewPrivs:\t1',
        '',
      ].join('\n'),
    );
  });

  it('should keep capabilities it is asked to keep, and nothing else', async function () {
    const r = await sh('grep -E "^Cap(Eff|Bnd)" /proc/self/status', { capabilities: ['CAP_NET_BIND_SERVICE'], user: { uid: 0 } });
    expect(r.stdout).to.equal('CapEff:\t0000000000000400\nCapBnd:\t0000000000000400\n');
    const nobody = await sh('grep -E "^Cap(Eff|Amb)" /proc/self/status', { capabilities: ['net_bind_service'] });
    expect(nobody.stdout).to.equal('CapEff:\t0000000000000400\nCapAmb:\t0000000000000400\n');
  });

  it('should run as nobody by default and as the user asked for', async function () {
    expect((await sh('id -u; id -g; id -G')).stdout).to.equal('65534\n65534\n65534\n');
    expect((await sh('id -u; id -g; id -G', { user: { uid: 1000, gid: 1001, groups: [5, 6] } })).stdout).to.equal('1000\n1001\n1001 5 6\n');
  });

  it('should not inherit the host environment', async function () {
    process.env.ISOLATE_KIT_HOST_SECRET = 'leak';
    try {
      const r = await Container.run(['env']);
      expect(r.stdout).to.equal('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOME=/tmp\n');
      const custom = await sh('echo $A-$HOME', { env: { A: 'b', HOME: null } });
      expect(custom.stdout).to.equal('b-\n');
    } finally {
      delete process.env.ISOLATE_KIT_HOST_SECRET;
    }
  });

  it('should hide the host /run (its sockets) behind a private tmpfs', async function () {
    const r = await sh('ls -A /run | wc -l; ls /var/run/ 2>/dev/null | wc -l');
    expect(r.stdout).to.equal('0\n0\n');
  });

  it('should bound the inodes of every private tmpfs: one per KiB of its size, at least 1024, or as many as a mount says', async function () {
    // `size` counts data pages only: without a count, empty files in /tmp
    // filled kernel memory (the kernel's default is half the RAM's pages).
    const mounts = [
      { type: 'tmpfs' as const, target: '/tmp/small', size: '64K' },
      { type: 'tmpfs' as const, target: '/tmp/counted', inodes: 50 },
    ];
    const r = await sh('stat -f -c %c /tmp /run /dev/shm /tmp/small /tmp/counted', { mounts });
    expect(r.stdout.split('\n').slice(0, 5)).to.deep.equal(['65536', '16384', '65536', '1024', '50']);
    // And the kernel holds the payload to it.
    const made = await sh('cd /tmp/counted && i=0; while [ $i -lt 1000 ]; do true 2>/dev/null > f$i || break; i=$((i+1)); done; echo $i', { mounts });
    expect(made.stdout).to.equal('49\n'); // the root directory is one of the 50
  });

  // Containers' devpts instances share one pool (3,072 by default): one
  // container must not be able to take every pty from the others.
  it('should let a container hold 64 pseudo-terminals at most, leaving the rest to the others', async function () {
    const script = 'import os\nheld = []\ntry:\n    while len(held) < 300: held.append(os.openpty())\nexcept OSError as e: print(len(held), e.errno)';
    const c = new Container({ rlimits: { nofile: 4096 } });
    try {
      await c.start();
      const hog = c.exec(['python3', '-c', `${script}\nimport sys, time; sys.stdout.flush(); time.sleep(60)`]);
      expect(await waitForOutput(hog.stdout!, /\n/)).to.equal('64 28\n'); // ENOSPC at the 65th
      // While it holds its 64, another container still gets 64 of its own.
      const r = await sh(`python3 -c '${script}'`, { rlimits: { nofile: 4096 } });
      expect(r.stdout).to.equal('64 28\n');
    } finally {
      await c.destroy();
    }
  });

  it('should apply rlimits, with no core dumps and 1024 files by default', async function () {
    expect((await sh('ulimit -c; ulimit -n')).stdout).to.equal('0\n1024\n');
    expect((await sh('ulimit -n; ulimit -Hn', { rlimits: { nofile: [64, 128] } })).stdout).to.equal('64\n128\n');
  });

  // Found 2026-11-30: under `ulimit -n 1024` (soft and hard, a common CI
  // line) every start with the default rlimits failed at setup (EPERM
  // raising nofile's hard limit to 4096). In a Node process of its own: the
  // test process's limits are every later test's (docs/testing.md).
  it("should cap the default rlimits at the caller's hard limit, and refuse up front one it asks for above it", function () {
    const probe = spawnSync('prlimit', ['--nofile=1024:1024', 'true']);
    skipUnless(this, probe.status === 0 ? null : `prlimit (util-linux) cannot lower RLIMIT_NOFILE here: ${probe.error ?? probe.stderr}`);
    const code = `
      const { Container } = require(${JSON.stringify(join(__dirname, '../../lib'))});
      const { CAP_SYS_RESOURCE, holdsHostCapability } = require(${JSON.stringify(join(__dirname, '../../lib/host-caps'))});
      (async () => {
        const out = { sysResource: holdsHostCapability(CAP_SYS_RESOURCE) };
        const run = async (rlimits) => {
          try {
            const r = await Container.run(['sh', '-c', 'ulimit -n; ulimit -Hn'], { rlimits });
            return r.status === 'ok' ? r.stdout.trim().split('\\n') : r.error.message;
          } catch (e) {
            return { code: e.code, message: e.message };
          }
        };
        out.defaults = await run(undefined);
        out.within = await run({ nofile: [256, 512] });
        out.above = await run({ nofile: [1024, 2048] });
        console.log(JSON.stringify(out));
      })();`;
    const r = spawnSync('prlimit', ['--nofile=1024:1024', process.execPath, '-e', code], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { sysResource: boolean; defaults: unknown; within: unknown; above: unknown };
    expect(out.defaults, 'the defaults, 1024 and 4096, capped at 1024').to.deep.equal(['1024', '1024']);
    expect(out.within).to.deep.equal(['256', '512']);
    if (out.sysResource) {
      expect(out.above, 'init may raise it: it holds CAP_SYS_RESOURCE').to.deep.equal(['1024', '2048']);
    } else {
      expect(out.above).to.deep.equal({
        code: 'ERR_INVALID_OPTION',
        message:
          "Expected the `rlimits.nofile` option to be a hard limit not above this process's own (1024), got `[1024,2048]` (array): " +
          'a container cannot raise it without CAP_SYS_RESOURCE, which this process lacks: raise its limit first (ulimit -H, prlimit, systemd Limit*=) or ask for less',
      });
    }
  });

  it('should give each container its own IPC namespace and /dev/shm', async function () {
    const r = await sh('ls /dev; mount | grep -c " /dev/shm "; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c');
    expect(r.stdout).to.include('null\n');
    expect(r.stdout).to.include('null-ok\n4\n');
    expect(r.stdout).to.not.include('sda');
  });
});
