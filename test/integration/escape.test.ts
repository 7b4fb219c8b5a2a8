/**
 * A hostile payload, run as root inside the container (uid 0, no
 * capabilities) unless noted, tries the classic ways out. Every attempt must
 * fail and the result must still be the payload's own.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, fstatSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container, type RunResult } from '../../lib';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';
import { KERNEL_PROBE, KEYRING_PROBE, LEASE_PROBE, PROBE, SIGIO_PROBE, SIGQUEUE_PROBE, buildProbes, probeResults, type Probes } from '../fixtures/probes';
import { markerProcesses, runFixture, sleepMarker, waitFor } from '../fixtures/procs';

const root = { uid: 0, gid: 0 };

async function hostile(script: string, options: Parameters<typeof Container.run>[1] = {}): Promise<RunResult> {
  const r = await Container.run(['sh', '-c', script], { timeout: 10_000, user: root, ...options });
  if (r.status === 'error') throw r.error;
  return r;
}

function listen(server: Server, path: string | number): Promise<void> {
  return new Promise((resolve) => server.listen(typeof path === 'number' ? { port: path, host: '127.0.0.1' } : path, resolve));
}

describe('Container against a hostile payload', function () {
  before(function () {
    needContainers(this);
  });

  it('should not let the payload kill, stop or signal init into a different result', async function () {
    // init ignores every signal sent from inside its namespace: the kernel
    // drops SIGKILL/SIGSTOP, and init does not forward the rest.
    for (const sig of ['KILL', 'STOP', 'SEGV', 'TERM', 'INT', 'HUP', 'USR1']) {
      const r = await hostile(`kill -${sig} 1; sleep 0.05; echo alive; exit 42`);
      expect(r.stdout, sig).to.equal('alive\n');
      expect(r.exitCode, sig).to.equal(42);
      expect(r.status, sig).to.equal('nonzero');
    }
  });

  it('should not let a process stop a started container by signalling init', async function () {
    const c = new Container({ user: root });
    try {
      await c.start();
      await c.run(['sh', '-c', 'kill -TERM 1; kill -INT 1; kill -HUP 1']);
      expect(c.state).to.equal('running');
      expect((await c.run(['echo', 'still here'])).stdout).to.equal('still here\n');
    } finally {
      await c.destroy();
    }
  });

  // A signal the kernel raises for a process (F_SETOWN names PID 1 as the
  // owner of a socket; F_SETSIG picks the signal) has no sender pid, like
  // one from outside the container; uid 0 may aim it at init.
  it('should not let the kernel signal init on a payload\'s behalf (F_SETOWN, F_SETSIG)', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    try {
      // As the main process: init would forward SIGTERM back to it.
      const r = await Container.run([SIGIO_PROBE], { user: root, mounts: [probe.mount], timeout: 10_000 });
      expect(r.stderr).to.equal('');
      expect(r).to.include({ status: 'ok', stdout: 'still here\n' });
      // In a started container: init would stop it.
      const c = new Container({ user: root, mounts: [probe.mount] });
      try {
        await c.start();
        expect((await c.run([SIGIO_PROBE])).status).to.equal('ok');
        expect(c.state).to.equal('running');
      } finally {
        await c.destroy();
      }
    } finally {
      probe.release();
    }
  });

  // uid 0 may queue a signal with a siginfo of its own (rt_sigqueueinfo and
  // kin): any sender pid, 0 (one init's pid namespace cannot see, like the
  // caller) included, with any code but the kernel's own SI_USER/SI_TKILL.
  it('should not take a signal a payload queues to init with a forged sender (rt_sigqueueinfo, SI_QUEUE)', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const attempts = ['rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_send_signal'].flatMap((call) =>
      ['SI_QUEUE', 'SI_MESGQ', 'SI_TIMER', 'SI_ASYNCIO'].map((code) => `${call} ${code} sent\n`),
    );
    const victimScript = 'trap "exit 7" TERM; while :; do sleep 0.05; done';
    try {
      // As the main process: init would forward SIGTERM back to it.
      const r = await Container.run([SIGQUEUE_PROBE], { user: root, mounts: [probe.mount], timeout: 10_000 });
      expect(r.stderr).to.equal('');
      expect(r).to.include({ status: 'ok', stdout: `${attempts.join('')}still here\n` });
      // In a started container: init would stop it, signalling every
      // process (kill(-1), as root), another user's too. Without a pid
      // namespace init's host pid is in reach, and a forged sender may be
      // the Node process; a plain kill() names the payload as sender.
      for (const namespaces of [undefined, ['mnt', 'net', 'ipc', 'uts'] as const]) {
        const c = new Container({ user: root, mounts: [probe.mount], namespaces: namespaces && [...namespaces] });
        try {
          await c.start();
          const victim = c.exec(['sh', '-c', victimScript], { user: { uid: 1000, gid: 1000 } });
          const init = namespaces ? c.pid! : 1;
          const q = await c.run([SIGQUEUE_PROBE, String(init), String(namespaces ? process.pid : 0)]);
          expect(q, String(namespaces)).to.include({ status: 'ok', stdout: `${attempts.join('')}still here\n` });
          const k = await c.run(['sh', '-c', `kill -TERM ${init}; kill -HUP ${init}; kill -USR1 ${init}; echo $?; sleep 0.2`]);
          expect(k.stdout, String(namespaces)).to.equal('0\n');
          expect(c.state, String(namespaces)).to.equal('running');
          expect(victim.exitCode, String(namespaces)).to.equal(null);
          // The caller's own stop still reaches everything inside.
          await c.stop();
          expect(await victim.wait(), String(namespaces)).to.deep.equal({ exitCode: 7, signalCode: null });
        } finally {
          await c.destroy();
        }
      }
    } finally {
      probe.release();
    }
  });

  it('should keep init out of reach: no ptrace, no /proc/1/mem, no fds, no exe', async function () {
    const r = await hostile(
      `python3 - <<'EOF'
import ctypes, os
for f in ('mem', 'environ', 'exe', 'maps', 'fd/4', 'fd/0'):
    try:
        with open('/proc/1/' + f, 'rb') as fh:
            fh.read(1)
        print('open', f)
    except OSError as e:
        print('denied', f)
for f in ('cwd', 'root', 'exe', 'fd/4'):
    try:
        os.listdir('/proc/1/' + f) if f in ('cwd', 'root') else os.readlink('/proc/1/' + f)
        print('open', f)
    except OSError:
        print('denied', f)
print('ptrace', ctypes.CDLL(None).ptrace(16, 1, 0, 0))
EOF`,
    );
    expect(r.stdout).to.not.include('open');
    for (const f of ['mem', 'environ', 'exe', 'maps', 'fd/4', 'fd/0', 'cwd', 'root']) expect(r.stdout).to.include(`denied ${f}\n`);
    expect(r.stdout).to.include('ptrace -1\n'); // PTRACE_ATTACH refused
  });

  // /proc/1/autogroup is root's, and raising an autogroup's nice takes no
  // capability: init in the Node process's session let a uid-0 payload put
  // that session (Node, its shell) at nice 19, for good.
  it('should keep the caller\'s scheduler autogroup out of reach (init has a session of its own)', async function () {
    skipUnless(this, existsSync('/proc/self/autogroup') ? null : 'the kernel has no scheduler autogroups (CONFIG_SCHED_AUTOGROUP)');
    const mine = () => readFileSync('/proc/self/autogroup', 'utf8');
    const before = mine();
    try {
      const c = new Container();
      try {
        await c.start();
        const session = readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3];
        expect(Number(session), 'init leads its own session').to.equal(c.pid);
        const r = await c.run(['sh', '-c', 'echo 19 > /proc/1/autogroup; cat /proc/1/autogroup'], { user: root });
        expect(r.stdout, JSON.stringify(r)).to.match(/nice 19\n$/); // its own
        expect(mine()).to.equal(before);
      } finally {
        await c.destroy();
      }
    } finally {
      writeFileSync('/proc/self/autogroup', before.replace(/.*nice /, '')); // put it back if the test failed
    }
  });

  it('should refuse mount, umount, pivot_root, chroot, mknod and sethostname without capabilities', async function () {
    const r = await hostile(
      [
        'mount -t tmpfs none /tmp 2>/dev/null && echo mounted',
        'umount /proc 2>/dev/null && echo unmounted',
        'umount -l / 2>/dev/null && echo unmounted-root',
        'chroot / true 2>/dev/null && echo chrooted',
        'mknod /tmp/sda b 8 0 2>/dev/null && echo mknod',
        'hostname evil 2>/dev/null && echo renamed',
        'unshare -m true 2>/dev/null && echo unshared-mnt',
        'unshare -n true 2>/dev/null && echo unshared-net',
        'echo done',
      ].join('\n'),
    );
    expect(r.stdout).to.equal('done\n');
  });

  it('should not reach the host network: loopback services and abstract sockets stay outside', async function () {
    const tcp = createServer((s) => s.end('host-secret'));
    const abstract = createServer((s) => s.end('host-secret'));
    // Node binds it padded with NULs to the whole sun_path (108 bytes); the
    // payload asks for that name, or it would miss it on any network.
    const name = `\0${TEMP_PREFIX}${process.pid}`;
    await listen(tcp, 0);
    await listen(abstract, name);
    try {
      const port = (tcp.address() as { port: number }).port;
      const r = await hostile(
        `python3 - <<'EOF'
import socket
for fam, addr in ((socket.AF_INET, ('127.0.0.1', ${port})), (socket.AF_UNIX, b'\\0${name.slice(1)}'.ljust(108, b'\\0'))):
    s = socket.socket(fam)
    s.settimeout(1)
    try:
        s.connect(addr); print('reached', s.recv(100))
    except OSError as e:
        print('blocked', type(e).__name__)
EOF`,
      );
      expect(r.stdout).to.not.include('reached');
      expect(r.stdout.match(/blocked/g)).to.have.length(2);
    } finally {
      tcp.close();
      abstract.close();
    }
  });

  it('should not let setuid binaries or file capabilities raise privileges (nosuid mounts, no_new_privs)', async function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      chmodSync(dir, 0o755); // nobody must be able to reach it
      copyFileSync('/usr/bin/id', join(dir, 'suid-id'));
      chmodSync(join(dir, 'suid-id'), 0o4755); // setuid root on the host
      const r = await Container.run(['/mnt/suid-id', '-u'], {
        mounts: [{ type: 'bind', source: dir, target: '/tmp/mnt' }],
        cwd: '/tmp',
        timeout: 10_000,
      }).then(async (first) => {
        // also try it where the bind is not nosuid-protected by our default: a tmpfs copy
        const second = await Container.run(['sh', '-c', 'cp /tmp/mnt/suid-id /tmp/x && chmod 4755 /tmp/x; /tmp/x -u'], {
          mounts: [{ type: 'bind', source: dir, target: '/tmp/mnt' }],
          timeout: 10_000,
        });
        return [first, second];
      });
      // /mnt/suid-id does not exist (we bound to /tmp/mnt): make sure the second ran
      expect(r[1]!.stdout).to.equal('65534\n');
      const direct = await Container.run(['/tmp/mnt/suid-id', '-u'], { mounts: [{ type: 'bind', source: dir, target: '/tmp/mnt' }] });
      expect(direct.stdout).to.equal('65534\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should keep root-only host files unreadable for the default user', async function () {
    const r = await Container.run(['sh', '-c', 'cat /etc/shadow 2>&1 | head -c 60; ls /root 2>&1 | head -c 60'], { timeout: 10_000 });
    expect(r.stdout).to.match(/Permission denied/);
    expect(r.stdout).to.not.match(/root:/);
  });

  // init gives the pipes the addon makes for a process ('pipe') to the
  // payload's uid, so that it can reopen /dev/stdout. An fd the caller
  // passes (a number, 'inherit': the Node process's own stdout pipe, say)
  // must keep its owner, or the payload (the default user here) could reopen
  // it for reading and read what Node writes to it, after the container too.
  it('should not give the payload a pipe the caller passed as stdio (own it, reopen it the other way)', async function () {
    // Two ends of an anonymous pipe of our own: sleep | sleep holds one, we
    // open each through /proc.
    const marker = sleepMarker();
    const sh = spawn('sh', ['-c', `sleep ${marker} | sleep ${marker}`], { stdio: 'ignore' });
    const fds: number[] = [];
    try {
      expect(await waitFor(() => markerProcesses(marker).length === 2, 5000)).to.equal(true);
      const pids = markerProcesses(marker);
      const writer = pids.find((pid) => readlinkSync(`/proc/${pid}/fd/1`).startsWith('pipe:'))!;
      const reader = pids.find((pid) => pid !== writer)!;
      const w = openSync(`/proc/${writer}/fd/1`, 'w');
      fds.push(w);
      const r = openSync(`/proc/${reader}/fd/0`, 'r');
      fds.push(r);
      const before = [fstatSync(r), fstatSync(w)].map((st) => [st.uid, st.gid, st.mode]);
      expect(before[0]![0]).to.equal(0);
      const script = [
        '(exec 3</proc/self/fd/1) 2>/dev/null && echo "read fd 1" >&2',
        '(exec 3>/proc/self/fd/0) 2>/dev/null && echo "wrote fd 0" >&2',
        '(exec 3</dev/stdout) 2>/dev/null && echo "read stdout" >&2',
        'echo done >&2',
      ].join('; ');
      const run = async (c: Container, start: boolean): Promise<string> => {
        const p = start ? c.spawn(['sh', '-c', script], { stdio: [r, w, 'pipe'] }) : c.exec(['sh', '-c', script], { stdio: [r, w, 'pipe'] });
        let err = '';
        p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        await p.wait();
        return err;
      };
      // As the main process, and exec'd into a started container.
      const main = new Container();
      try {
        expect(await run(main, true)).to.equal('done\n');
      } finally {
        await main.destroy();
      }
      const c = new Container();
      try {
        await c.start();
        expect(await run(c, false)).to.equal('done\n');
      } finally {
        await c.destroy();
      }
      expect([fstatSync(r), fstatSync(w)].map((st) => [st.uid, st.gid, st.mode])).to.deep.equal(before);
    } finally {
      for (const fd of fds) closeSync(fd);
      for (const pid of markerProcesses(marker)) process.kill(pid, 'SIGKILL');
      await new Promise((res) => (sh.exitCode !== null || sh.signalCode !== null ? res(null) : sh.once('exit', res)));
    }
  });

  it('should keep the host filesystem read-only even for uid 0', async function () {
    const r = await hostile(
      'for p in /etc/passwd /usr/bin/sh /var/tmp/x /sys/kernel/mm/transparent_hugepage/enabled /proc/sys/vm/drop_caches; do (echo x >> $p) 2>/dev/null && echo "wrote $p"; done; echo done',
    );
    expect(r.stdout).to.equal('done\n');
  });

  it('should stay inside its root through /proc/*/root and /proc/*/cwd', async function () {
    const r = await hostile('ls /proc/self/root/ | head -50 | tr "\\n" " "; echo; readlink /proc/1/root /proc/self/root 2>&1');
    expect(r.stdout).to.not.include(process.cwd());
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      const r2 = await hostile(`ls ${dir} 2>&1; ls /proc/self/root${dir} 2>&1`);
      expect(r2.stdout.match(/No such file/g)).to.have.length(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should cap writable space: /tmp fills up at its size, the host is untouched', async function () {
    const r = await hostile('head -c 100M /dev/zero > /tmp/fill; echo rc=$?; du -k /tmp/fill | cut -f1');
    expect(r.stderr).to.match(/No space left/);
    const kb = Number(r.stdout.split('\n')[1]);
    expect(kb).to.be.at.most(64 * 1024);
  });

  it('should not see the host cgroup tree, kernel logs or other containers', async function () {
    const r = await hostile('ls /sys/fs/cgroup | wc -l; dmesg >/dev/null 2>&1 && echo dmesg; cat /proc/1/cgroup | head -3');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal('0');
    expect(r.stdout).to.not.include('dmesg\n');
    // cgroup namespace: our own cgroup is the root of what we see
    expect(lines.slice(1).every((l) => l.endsWith(':/'))).to.equal(true);
  });

  // In a user namespace of its own a payload could mount the cgroup
  // filesystem: as any user it would see the host's groups where the
  // container has none (other containers' included), and as uid 0, which
  // owns every cgroup file, write them.
  it('should keep every process from making user namespaces, by every ABI, exec\'d ones too', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const refused = { 'unshare(CLONE_NEWUSER)': 'EPERM', 'clone(CLONE_NEWUSER)': 'EPERM', 'clone3(CLONE_NEWUSER)': 'ENOSYS', 'unshare(0)': 'ok' };
    try {
      const run = async (options: Parameters<typeof Container.run>[1]) => {
        const r = await Container.run([PROBE, 'abi'], { timeout: 10_000, mounts: [probe.mount], ...options });
        expect(r.status, r.stderr).to.equal('ok');
        return probeResults(r.stdout);
      };
      // Unconfined, the host lets a process make one: so what stops the others is the filter.
      const unconfined = await run({ seccomp: 'unconfined' });
      skipUnless(this, unconfined['unshare(CLONE_NEWUSER)'] === 'ok' ? null : `this host forbids unprivileged user namespaces (${unconfined['unshare(CLONE_NEWUSER)']})`);
      const check = (got: Record<string, string>, what: string) => {
        expect(got, what).to.include(refused);
        // The other ABIs of this CPU (i386 and x32 on x86_64): wherever the unconfined call worked, this one is refused.
        for (const [attempt, result] of Object.entries(unconfined)) {
          if (attempt !== 'unshare(0)' && result === 'ok') expect(got[attempt], `${what}: ${attempt}`).to.be.oneOf(['EPERM', 'ENOSYS']);
        }
      };
      for (const options of [{}, { user: root }, { user: root, capabilities: ['CAP_SETUID', 'CAP_SETGID'] }]) check(await run(options), JSON.stringify(options));
      // A process started later in a running container inherits it from init.
      const c = new Container({ mounts: [probe.mount], user: root });
      await c.start();
      try {
        check(probeResults((await c.run([PROBE, 'abi'])).stdout), 'exec');
      } finally {
        await c.destroy();
      }
    } finally {
      probe.release();
    }
  });

  // Each holds what no group is charged for or what the container shares
  // with the machine: perf ring buffers pinned outside the memory cgroup
  // (a review: 1.2 GB from a `memory: '64M'` container), vsock ports (the
  // VM's, whatever the network namespace), memfd_secret's holes in the
  // host kernel's direct map, MPTCP sockets past the v1 socket buffer
  // budget (the seventeenth review: 361 MB of the host's memory under
  // `memory: '64M'`, where TCP's went to 131 MB). init's filter refuses them.
  it('should refuse perf events, AF_VSOCK, MPTCP and memfd_secret, by every ABI, exec\'d ones too', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const run = async (options: Parameters<typeof Container.run>[1] = {}) => {
      const r = await Container.run([KERNEL_PROBE], { timeout: 10_000, mounts: [probe.mount], ...options });
      expect(r.status, r.stderr).to.equal('ok');
      return probeResults(r.stdout);
    };
    try {
      const unconfined = await run({ seccomp: 'unconfined' });
      const refusal = (attempt: string) =>
        attempt.includes('perf') ? 'EACCES' : attempt.includes('VSOCK') ? 'EAFNOSUPPORT' : attempt.includes('MPTCP') ? 'EPROTONOSUPPORT' : 'ENOSYS';
      const check = (got: Record<string, string>, what: string) => {
        expect(Object.keys(got), what).to.deep.equal(Object.keys(unconfined));
        // Wherever the kernel answers the call itself (this machine: perf, vsock, MPTCP and memfd_secret natively), it is refused.
        for (const [attempt, result] of Object.entries(unconfined)) {
          if (result.startsWith('signal ')) expect(got[attempt], `${what}: ${attempt}`).to.equal(result);
          else if (result !== 'ENOSYS' && result !== 'EAFNOSUPPORT') expect(got[attempt], `${what}: ${attempt}`).to.equal(refusal(attempt));
        }
      };
      for (const options of [{}, { user: root }]) check(await run(options), JSON.stringify(options));
      const c = new Container({ mounts: [probe.mount], user: root });
      await c.start();
      try {
        check(probeResults((await c.run([KERNEL_PROBE])).stdout), 'exec');
      } finally {
        await c.destroy();
      }
    } finally {
      probe.release();
    }
  });

  // Keyrings are not namespaced: every process of a uid shares its user
  // keyring, so containers of one uid (all `nobody` by default) could pass
  // keys to each other or read what another stored, and a uid-0 payload
  // the host root's. init's filter refuses the three keyring calls.
  it('should keep containers of one uid out of each other\'s keyrings, by every ABI, exec\'d ones too', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const name = `isolate-kit-test-${process.pid}-${Date.now()}`;
    const run = async (args: string[], options: Parameters<typeof Container.run>[1] = {}) => {
      const r = await Container.run([KEYRING_PROBE, ...args], { timeout: 10_000, mounts: [probe.mount], ...options });
      expect(r.status, r.stderr).to.equal('ok');
      return probeResults(r.stdout);
    };
    try {
      // Unconfined, the kernel answers each call, and a key one container
      // puts in nobody's user keyring is there for the next: the channel.
      const unconfined = await run(['abi'], { seccomp: 'unconfined' });
      skipUnless(this, unconfined['keyctl(KEYCTL_GET_KEYRING_ID)'] === 'ok' ? null : `this kernel has no keyrings (${unconfined['keyctl(KEYCTL_GET_KEYRING_ID)']})`);
      expect(unconfined).to.include({ add_key: 'EINVAL', request_key: 'ENOKEY' });
      expect(await run(['put', name], { seccomp: 'unconfined' })).to.deep.equal({ put: 'ok' });
      expect(await run(['get', name], { seccomp: 'unconfined' })).to.deep.equal({ get: `secret-${name}` });
      const check = (got: Record<string, string>, what: string) => {
        // Every call on every ABI the kernel runs (i386 and x32 on x86_64, where built in) fails as on a kernel without keys.
        for (const [attempt, result] of Object.entries(unconfined)) {
          if (result.startsWith('signal ')) expect(got[attempt], `${what}: ${attempt}`).to.equal(result);
          else if (result !== 'ENOSYS') expect(got[attempt], `${what}: ${attempt}`).to.equal('ENOSYS');
        }
      };
      for (const options of [{}, { user: root }]) {
        const what = JSON.stringify(options);
        check(await run(['abi'], options), what);
        expect(await run(['get', name], options), what).to.deep.equal({ get: 'ENOSYS' });
        expect(await run(['put', `${name}-2`], options), what).to.deep.equal({ put: 'ENOSYS' });
      }
      // A process started later in a running container inherits the filter from init.
      const c = new Container({ mounts: [probe.mount] });
      await c.start();
      try {
        check(probeResults((await c.run([KEYRING_PROBE, 'abi'])).stdout), 'exec');
      } finally {
        await c.destroy();
      }
    } finally {
      try {
        // Nothing left in nobody's user keyring, which outlives every container.
        // (ENOKEY: put failed; ENOSYS: no keyrings here.)
        expect((await run(['drop', name], { seccomp: 'unconfined' })).drop).to.be.oneOf(['ok', 'ENOKEY', 'ENOSYS']);
      } finally {
        probe.release();
      }
    }
  });

  // A child starts with its parent's session keyring, and a process holds
  // ("possesses") the keys its session keyring reaches, whatever its uid:
  // every payload, `nobody` included, held the Node process's session keys.
  it('should give every container an empty session keyring of its own, which keeps the caller\'s out of reach, unconfined too', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const name = `isolate-kit-test-${process.pid}-${Date.now()}`;
    try {
      // A Node process whose session keyring holds a key (the probe joins a new one, adds the key, runs Node).
      const f = runFixture('keyring-caller', [probe.path('keyring_probe'), probe.mount.source, name], [probe.path('keyring_probe'), 'hold', name]);
      const got = (await f.firstJson) as Record<string, string>;
      expect(await f.exited, f.stderr()).to.equal(0);
      // Outside a container, its children hold the key, as nobody too: the probe reaches it.
      expect(got['host child'], JSON.stringify(got)).to.equal(`get secret-${name}`);
      expect(got['host child as nobody'], JSON.stringify(got)).to.equal(`get secret-${name}`);
      skipUnless(this, got['unconfined'] === 'get ENOSYS' ? 'this kernel has no keyrings' : null);
      expect(got).to.deep.include({
        default: 'get ENOSYS',
        'uid 0': 'get ENOSYS',
        // The filter is lifted, but the container's session keyring is its own, empty.
        unconfined: 'get ENOKEY',
        'uid 0 unconfined': 'get ENOKEY',
      });
    } finally {
      probe.release();
    }
    // Every container holds one of its own, filtered or not: the filter
    // does not shut every way the kernel uses a process's keyrings (AF_ALG
    // takes keys by serial from 6.2). The host's /proc/keys lists them.
    const sessionKeyrings = () => readFileSync('/proc/keys', 'utf8').split('\n').filter((l) => / keyring +_ses: /.test(l)).map((l) => l.split(' ')[0]!);
    const before = new Set(sessionKeyrings());
    const held = [new Container(), new Container({ user: root }), new Container({ seccomp: 'unconfined' })];
    let theirs: string[] = [];
    try {
      for (const c of held) {
        await c.start();
        c.spawn(['sleep', '30'], { stdio: 'ignore' });
      }
      theirs = sessionKeyrings().filter((id) => !before.has(id));
      expect(theirs).to.have.length(held.length);
    } finally {
      for (const c of held) await c.destroy();
    }
    // They go with their containers.
    const left = () => sessionKeyrings().filter((id) => theirs.includes(id));
    expect(await waitFor(() => left().length === 0, 5000), `the containers' session keyrings are gone: ${left().join(', ')}`).to.equal(true);
  });

  // fcntl(F_SETLEASE) needs only to own the file, and a uid-0 payload owns
  // every root-owned file of the host's root, read-only as it is: a lease
  // held every open() of the file on the host for 45 s (lease-break-time),
  // again and again. init's filter refuses it.
  it('should keep a uid-0 payload from taking leases on the host\'s files, by every ABI, exec\'d ones too', async function () {
    skipUnless(this, process.getuid?.() === 0 ? null : 'the host file must be root\'s');
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'host-file'), 'root\'s\n', { mode: 0o644 });
    const mounts = [probe.mount, { type: 'bind' as const, source: dir, target: '/tmp/host', readonly: true as const }];
    const run = async (options: Parameters<typeof Container.run>[1]) => {
      const r = await Container.run([LEASE_PROBE, '/tmp/host/host-file'], { timeout: 10_000, mounts, ...options });
      expect(r.status, r.stderr).to.equal('ok');
      return probeResults(r.stdout);
    };
    try {
      // Unconfined, the kernel grants it (and the probe lets it go at once).
      const unconfined = await run({ user: root, seccomp: 'unconfined' });
      skipUnless(this, unconfined['fcntl(F_SETLEASE)'] === 'ok' ? null : `this host grants no leases (${unconfined['fcntl(F_SETLEASE)']}; fs.leases-enable?)`);
      const check = (got: Record<string, string>, what: string) => {
        // Every ABI the kernel runs (i386 and x32 on x86_64, where built in) gets what a process that does not own the file gets.
        for (const [attempt, result] of Object.entries(unconfined)) {
          if (attempt.includes('F_SETLEASE') && result === 'ok') expect(got[attempt], `${what}: ${attempt}`).to.equal('EACCES');
        }
        expect(got['fcntl(F_GETFL)'], `${what}: other fcntl calls`).to.equal('ok');
      };
      for (const options of [{ user: root }, { user: root, capabilities: ['CAP_LEASE'] }]) check(await run(options), JSON.stringify(options));
      const c = new Container({ mounts, user: root });
      await c.start();
      try {
        check(probeResults((await c.run([LEASE_PROBE, '/tmp/host/host-file'])).stdout), 'exec');
      } finally {
        await c.destroy();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      probe.release();
    }
  });
});
