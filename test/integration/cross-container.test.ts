/**
 * A container that can see processes outside it (no pid namespace of its
 * own, or no mount namespace: the host's /proc) must still not reach into
 * them: init gives every container a Landlock domain (lib/landlock.ts), and
 * the kernel then refuses ptrace access (memory, environ, fd links, taking
 * fds) from inside one to any process outside it, and from Linux 6.12
 * signals and connections to abstract Unix sockets bound outside (which a
 * container with the host's network would otherwise share). Inside a
 * container nothing changes.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Container, type ContainerOptions } from '../../lib';
import { landlockAbi, landlockReport } from '../../lib/landlock';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

const root = { uid: 0, gid: 0 };
/** Sees the host's processes (the host's pid namespace), with a /proc of its own. */
const NO_PIDNS: ContainerOptions = { namespaces: ['mnt', 'net', 'uts', 'ipc'] };
/** The host's pid namespace and the host's /proc. */
const NO_MNTNS: ContainerOptions = { namespaces: ['net', 'uts', 'ipc'] };

/**
 * What a payload learns about host pid `pid`: its environ line, one fd
 * link, a read of its memory, and whether `kill -0` reaches it (each "ok"
 * or the error). Host /proc paths, so the payload must see the host's pids.
 */
const REACH = `p=$1
printf 'environ:%s\\n' "$(cat /proc/$p/environ 2>&1 | tr '\\0' '\\n' | grep -m1 'SECRET\\|denied' | sed 's/.*: //')"
printf 'fd:%s\\n' "$(readlink /proc/$p/fd/0 >/dev/null 2>&1 && echo ok || echo denied)"
printf 'mem:%s\\n' "$(dd if=/proc/$p/mem bs=1 count=1 skip=4096 2>&1 >/dev/null | grep -q denied && echo denied || echo ok)"
printf 'kill:%s\\n' "$(kill -0 $p 2>/dev/null && echo ok || echo denied)"
`;

function reach(result: string): Record<string, string> {
  return Object.fromEntries(result.trim().split('\n').map((l) => l.split(/:(.*)/s).slice(0, 2) as [string, string]));
}

/** A host process we start (so we may end it) as `uid`, holding a secret in its environment. */
async function hostSleeper(uid: number): Promise<ChildProcess> {
  const child = spawn('sleep', ['30'], { uid, gid: uid, env: { SECRET: 'host-secret' }, stdio: 'ignore' });
  await once(child, 'spawn');
  return child;
}

describe('Containers that see other processes', function () {
  before(function () {
    needContainers(this);
    const r = landlockReport();
    skipUnless(this, r.ok ? null : `Landlock: ${r.reason}`);
  });

  /** Landlock ABI 6 (Linux 6.12): signals and abstract Unix sockets are scoped too. */
  const scoped = (): boolean => landlockAbi() >= 6;

  for (const [what, options] of [
    ['no pid namespace', NO_PIDNS],
    ['no mount namespace', NO_MNTNS],
  ] as const) {
    for (const user of [undefined, root]) {
      it(`should keep a container with ${what} out of another container's payload (${user ? 'uid 0' : 'nobody'})`, async function () {
        const victim = new Container({ user, env: { SECRET: 'victim-secret' } });
        try {
          const v = victim.spawn(['sleep', '30'], { stdio: 'ignore' });
          const hostPid = await payloadHostPid(victim);
          const r = await Container.run(['sh', '-c', REACH, 'sh', String(hostPid)], { ...options, user, timeout: 10_000 });
          expect(r.status, r.stderr).to.equal('ok');
          const got = reach(r.stdout);
          expect(got.environ, r.stdout).to.equal('Permission denied');
          expect(got.fd, r.stdout).to.equal('denied');
          expect(got.mem, r.stdout).to.equal('denied');
          if (scoped()) expect(got.kill, r.stdout).to.equal('denied');
          expect(v.exitCode).to.equal(null);
        } finally {
          await victim.destroy();
        }
      });
    }
  }

  it('should keep a container without a mount namespace out of host processes of its uid', async function () {
    const host = await hostSleeper(65534);
    try {
      const r = await Container.run(['sh', '-c', REACH, 'sh', String(host.pid)], { ...NO_MNTNS, timeout: 10_000 });
      expect(r.status, r.stderr).to.equal('ok');
      const got = reach(r.stdout);
      expect(got.environ, r.stdout).to.equal('Permission denied');
      expect(got.fd, r.stdout).to.equal('denied');
      if (scoped()) expect(got.kill, r.stdout).to.equal('denied');
      expect(host.exitCode).to.equal(null);
    } finally {
      host.kill('SIGKILL');
      await once(host, 'exit').catch(() => undefined);
    }
  });

  for (const user of [undefined, root]) {
    it(`should leave ptrace and signals between the container's own processes as they were (${user ? 'uid 0' : 'nobody'})`, async function () {
      const c = new Container({ user, env: { SECRET: 'own-secret' } });
      try {
        await c.start();
        c.spawn(['sleep', '30'], { stdio: 'ignore' });
        // Another process, started later by exec(), reaches the first.
        const r = await c.run(['sh', '-c', `for i in 1 2 3 4 5; do p=$(pgrep -x sleep) && break; sleep 0.05; done; set -- $p; ${REACH}`, 'sh']);
        expect(r.status, r.stderr).to.equal('ok');
        expect(reach(r.stdout)).to.deep.equal({ environ: 'SECRET=own-secret', fd: 'ok', mem: 'ok', kill: 'ok' });
        // Renames and links across directories (what an ABI 2-5 domain handles).
        const mv = await c.run(['sh', '-c', 'mkdir -p /tmp/a /tmp/b && echo x > /tmp/a/f && mv /tmp/a/f /tmp/b/f && ln /tmp/b/f /tmp/a/g && cat /tmp/a/g']);
        expect(mv.stdout, mv.stderr).to.equal('x\n');
      } finally {
        await c.destroy();
      }
    });
  }

  it('should keep a container with the host network off abstract sockets bound outside it (6.12+), and leave its own', async function () {
    // One bound by the host, one by another container on the host's network.
    // Node binds an abstract name padded with NULs to the whole sun_path (108
    // bytes), and a name is all of its bytes: the payload asks for it so.
    const server = createServer((sock) => sock.end('host-secret'));
    const hostName = `${TEMP_PREFIX}abstract-host-${process.pid}`;
    const neighbourName = `${TEMP_PREFIX}abstract-neighbour-${process.pid}`;
    await new Promise<void>((resolve) => server.listen(`\0${hostName}`, resolve));
    const neighbour = new Container({ network: 'host' });
    try {
      const listener = neighbour.spawn(['python3', '-c', `import socket, time
l = socket.socket(socket.AF_UNIX); l.bind('\\0${neighbourName}'); l.listen(8); print('bound', flush=True)
while True:
    a, _ = l.accept(); a.send(b'neighbour-secret'); a.close()`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(listener.stdout!, 'data');
      const r = await Container.run(['python3', '-c', `import os, socket
for name in (b'\\0${hostName}'.ljust(108, b'\\0'), b'\\0${neighbourName}'):
    s = socket.socket(socket.AF_UNIX); s.settimeout(2)
    try:
        s.connect(name); print('reached', s.recv(100).decode())
    except OSError as e:
        print('blocked', type(e).__name__)
l = socket.socket(socket.AF_UNIX); l.bind('\\0${neighbourName}-own'); l.listen(1)
if os.fork() == 0:
    c = socket.socket(socket.AF_UNIX); c.connect('\\0${neighbourName}-own'); c.send(b'own'); os._exit(0)
a, _ = l.accept(); print('inside', a.recv(10).decode()); os.wait()`], { network: 'host', timeout: 10_000 });
      const outside = scoped() ? ['blocked PermissionError', 'blocked PermissionError'] : ['reached host-secret', 'reached neighbour-secret'];
      expect(r.stdout, r.stderr).to.equal(`${[...outside, 'inside own'].join('\n')}\n`);
    } finally {
      await neighbour.destroy();
      server.close();
    }
  });

  it('should leave mounts to a payload given CAP_SYS_ADMIN', async function () {
    // An ABI 2-5 domain refuses every mount: such containers get none.
    const r = await Container.run(['sh', '-c', 'mkdir /tmp/m && mount -t tmpfs t /tmp/m && echo mounted'], {
      user: root,
      capabilities: ['CAP_SYS_ADMIN'],
      timeout: 10_000,
    });
    expect(r.stdout, r.stderr).to.equal('mounted\n');
  });
});

/** The host pid of the one `sleep` in `c`: a child of its init, whose host pid we know. */
async function payloadHostPid(c: Container): Promise<number> {
  const initPid = c.pid!;
  for (let i = 0; i < 50; i++) {
    const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    for (const p of children) {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'sleep') return p;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the victim\'s sleep did not start');
}
