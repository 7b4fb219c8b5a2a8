/**
 * What a container's memory cgroup is not charged for, and how the library
 * bounds it: netlink receive queues (csrc/init/no_userns.c,
 * csrc/init/netlink_guard.c). Run on the host and, as a cgroup suite, on the
 * cgroup-v2 VM's older kernel (npm run test:cgroup-v2), where init finds a
 * thread's fds without PIDFD_THREAD.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from '../../lib';
import { native } from '../../lib/native';
import { landlockAbi } from '../../lib/landlock';
import { TEMP_PREFIX } from '../helpers/leaks';
import { cgroupsUnavailable, needContainers, skipUnless } from '../helpers/caps';
import { NETLINK_FILL, buildProbes, probeResults, type Probes } from '../fixtures/probes';
import { runFixture } from '../fixtures/procs';

const root = { uid: 0, gid: 0 };

describe('Container: netlink queues, which no memory cgroup is charged for', function () {
  before(function () {
    needContainers(this);
  });

  // Netlink receive queues are charged to no memory cgroup, and
  // NETLINK_USERSOCK lets any process send to another's socket without a
  // capability: a payload of a 64M container held 2 GB in queues it never
  // read. init's filter leaves only NETLINK_ROUTE (getifaddrs, `ip`), on
  // every ABI, and shuts the ways around socket(): i386's socketcall and
  // io_uring's IORING_OP_SOCKET.
  it('should refuse netlink sockets but NETLINK_ROUTE, by every ABI, io_uring and mq_notify, and keep NETLINK_ROUTE working', async function () {
    skipUnless(this, cgroupsUnavailable());
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const refused = {
      'socket(NETLINK_USERSOCK)': 'EPROTONOSUPPORT',
      'socket(NETLINK_SOCK_DIAG)': 'EPROTONOSUPPORT',
      'socket(NETLINK_KOBJECT_UEVENT)': 'EPROTONOSUPPORT',
      'socket(NETLINK_GENERIC)': 'EPROTONOSUPPORT',
      'socket(NETLINK_USERSOCK | 1 << 32)': 'EPROTONOSUPPORT', // the kernel reads an int
      'socket(AF_NETLINK | 1 << 32, NETLINK_USERSOCK)': 'EPROTONOSUPPORT',
      'socketpair(NETLINK_USERSOCK)': 'EPROTONOSUPPORT',
      'io_uring socket(NETLINK_USERSOCK)': 'ENOSYS',
      // SIGEV_THREAD holds a netlink socket past its last close, out of init's count
      // (a review: 256 full sockets in one container); the sigevent is in memory, so all go.
      'mq_notify(SIGEV_THREAD)': 'ENOSYS',
      'mq_notify(SIGEV_SIGNAL)': 'ENOSYS',
    };
    const working = {
      'socket(NETLINK_ROUTE)': 'ok',
      'socket(NETLINK_ROUTE, SOCK_DGRAM)': 'ok',
      'socket(NETLINK_ROUTE | 1 << 32)': 'ok',
      'socket(AF_UNIX)': 'ok',
      'socket(AF_INET)': 'ok',
      'socketpair(AF_UNIX)': 'ok',
      'socketpair(NETLINK_ROUTE)': 'EOPNOTSUPP', // the kernel's own answer: netlink has no pairs
      'RTM_GETLINK dump': 'ok',
      getifaddrs: 'ok',
      'mq_notify(NULL)': 'ok', // removing a registration
    };
    // From x86_64 through int 0x80, where this kernel runs i386 code.
    const i386 = {
      'i386 socket(NETLINK_USERSOCK)': 'EPROTONOSUPPORT',
      'i386 socketpair(NETLINK_USERSOCK)': 'EPROTONOSUPPORT',
      'i386 socketcall(SYS_SOCKET, NETLINK_USERSOCK)': 'ENOSYS', // its arguments are in memory: every socketcall socket
      'i386 socketcall(SYS_SOCKET, AF_UNIX)': 'ENOSYS',
      'i386 socketcall(SYS_SOCKETPAIR, AF_UNIX)': 'ENOSYS',
      'i386 socket(NETLINK_ROUTE)': 'ok',
      'i386 socketcall(SYS_GETSOCKNAME)': 'EBADF', // other socketcalls pass
      'i386 mq_notify(SIGEV_SIGNAL)': 'ENOSYS',
    };
    const limits = { timeout: 20_000, mounts: [probe.mount], cgroup: { memory: '64M', pids: 64 } };
    try {
      const run = async (args: string[], options: Parameters<typeof Container.run>[1] = {}) => {
        const r = await Container.run(args, { ...limits, ...options });
        expect(r.status, r.stderr).to.equal('ok');
        return r.stdout;
      };
      // Unconfined, the kernel makes them: so what refuses them is the filter, which 'unconfined' lifts.
      const unconfined = probeResults(await run([NETLINK_FILL, 'probe'], { seccomp: 'unconfined' }));
      expect(unconfined).to.include({ 'socket(NETLINK_USERSOCK)': 'ok', 'socket(NETLINK_ROUTE)': 'ok', 'mq_notify(SIGEV_THREAD)': 'ok', 'mq_notify(SIGEV_SIGNAL)': 'ok' });
      const i386Runs = unconfined['i386 socket(NETLINK_ROUTE)'] === 'ok';
      for (const [what, options] of [['as nobody', {}], ['as uid 0', { user: root }]] as const) {
        const got = probeResults(await run([NETLINK_FILL, 'probe'], options));
        expect(got, what).to.include(refused);
        expect(got, what).to.include(working);
        if (i386Runs) expect(got, what).to.include(i386);
        else for (const attempt of Object.keys(i386)) expect(got[attempt] ?? 'ENOSYS', `${what}: ${attempt}`).to.not.equal('ok');
      }
      // The payload of the finding gets no socket to fill.
      expect(await run([NETLINK_FILL, 'fill', 'usersock', '16', '128'])).to.equal('socket EPROTONOSUPPORT\n');
      // Programs that ask NETLINK_ROUTE still work (the probe's getifaddrs above; iproute2 where the host has it).
      if (spawnSync('ip', ['-V']).status === 0) expect(await run(['ip', '-o', 'link', 'show'])).to.match(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    } finally {
      probe.release();
    }
  });

  // NETLINK_ROUTE replies queue uncharged too, up to each socket's receive
  // buffer (2 * net.core.rmem_max once raised, no capability needed) plus
  // one reply, and an error reply echoes its request (up to the send
  // buffer): 256 sockets held 2 GB under a 64M limit. init answers for them
  // (csrc/init/netlink_guard.c): it makes them itself, at most 16 at once,
  // and leaves their buffers at the default; other sockets' buffer calls it
  // makes as the kernel would.
  it('should hold NETLINK_ROUTE sockets to 16 at the default buffers, raced or not, and answer buffer calls as the kernel does elsewhere', async function () {
    skipUnless(this, cgroupsUnavailable());
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const sysctl = (name: string) => Number(readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));
    const [rmemDefault, wmemDefault, rmemMax, wmemMax] = ['rmem_default', 'wmem_default', 'rmem_max', 'wmem_max'].map(sysctl) as [number, number, number, number];
    // A queue passes its buffer by one reply at most: a dump's skb, or an error echoing a request.
    const bound = 16 * (rmemDefault + wmemDefault + 64 * 1024);
    const limits = { timeout: 20_000, mounts: [probe.mount], cgroup: { memory: '64M', pids: 64 } };
    try {
      const run = async (args: string[], options: Parameters<typeof Container.run>[1] = {}, program = NETLINK_FILL) => {
        const r = await Container.run([program, ...args], { ...limits, ...options });
        expect(r.status, r.stderr).to.equal('ok');
        return r.stdout;
      };
      const held = (out: string) => Number(/held (\d+) sockets/.exec(out)?.[1]);
      // The findings' payloads, unconfined: every queue at 2 * rmem_max, or one echo of 4 MB each.
      const open = await run(['fill', 'route', '20', '2048'], { seccomp: 'unconfined' });
      expect(open).to.match(/^held \d+ sockets 20\n$/);
      expect(held(open)).to.be.above(bound);
      // As large a request as a raised send buffer takes (2 * wmem_max), echoed whole.
      const large = Math.min(4_000_000, 2 * wmemMax - 64 * 1024);
      const echoed = await run(['echo', '20', String(large)], { seccomp: 'unconfined' });
      expect(echoed).to.match(/^held \d+ sockets 20 sent 20\n$/);
      expect(held(echoed)).to.be.at.least(20 * large);
      // Guarded: 16 sockets, their buffers at the default, so no 4 MB request leaves.
      const guarded = await run(['fill', 'route', '256', '2048']);
      expect(guarded).to.match(/^socket ENOBUFS after 16\nheld \d+ sockets 16\n$/);
      expect(held(guarded)).to.be.at.most(bound);
      if (large > wmemDefault) expect(await run(['echo', '20', String(large)])).to.equal('held 0 sockets 16 sent 0\n');
      const small = await run(['echo', '20', String(wmemDefault - 4096)]);
      expect(small).to.match(/^held \d+ sockets 16 sent 16\n$/);
      expect(held(small)).to.be.at.most(bound);
      // The count is the container's own (the sockets init made that are still alive
      // somewhere), so it holds with the host's network namespace too. And without a
      // mount namespace, where init's /proc is the host's and the caller's pid there
      // another process's (a review: 2,969 sockets, and SO_RCVBUFFORCE for nobody),
      // init looks callers up in a procfs of its own pid namespace.
      const layouts: [string, Parameters<typeof Container.run>[1], string][] = [
        ['own network', {}, NETLINK_FILL],
        ["network: 'host'", { network: 'host' }, NETLINK_FILL],
        ["namespaces: ['pid', 'net']", { namespaces: ['pid', 'net'], mounts: [] }, probe.path('netlink_fill')],
        ["namespaces: ['pid']", { namespaces: ['pid'], mounts: [] }, probe.path('netlink_fill')],
      ];
      for (const [what, options, program] of layouts) {
        if (what !== 'own network') {
          const filled = await run(['fill', 'route', '256', '2048'], options, program);
          expect(filled, what).to.match(/^socket ENOBUFS after 16\nheld \d+ sockets 16\n$/);
          expect(held(filled), what).to.be.at.most(bound);
          const buffers = probeResults(await run(['buffers'], options, program));
          expect(buffers['netlink SO_RCVBUF'], what).to.equal(String(rmemDefault));
          expect(buffers['inet SO_RCVBUFFORCE'], what).to.equal('EPERM');
        }
        // Eight processes at once: init makes the sockets, one at a time.
        expect(await run(['parallel', '8', '40'], options, program), what).to.equal('sockets 16\n');
        // A closed socket no longer counts; one in flight in a Unix socket does.
        expect(await run(['again', '20'], options, program), what).to.equal('first 16 again 16\n');
        expect(await run(['inflight', '20'], options, program), what).to.equal('inflight 16 more ENOBUFS back 16 again 16\n');
      }

      // Buffer calls: on a netlink socket "done" and unchanged (*FORCE: EPERM, as without
      // CAP_NET_ADMIN); anywhere else what the kernel says, from any thread and ABI.
      const cases: [string, Parameters<typeof Container.run>[1]][] = [
        ['as nobody', {}],
        ['as uid 0 with CAP_NET_ADMIN', { user: root, capabilities: ['NET_ADMIN'] }],
      ];
      const kept = /^(i386 )?netlink SO_(RCV|SND)BUF( from a thread)?$/; // unchanged by the guard
      for (const [what, options] of cases) {
        const kernel = probeResults(await run(['buffers'], { ...options, seccomp: 'unconfined' }));
        const got = probeResults(await run(['buffers'], options));
        const netlink = Object.keys(kernel).filter((k) => kept.test(k));
        expect(netlink, what).to.include.members(['netlink SO_RCVBUF', 'netlink SO_RCVBUF from a thread', 'netlink SO_SNDBUF', 'netlink SO_SNDBUF from a thread']);
        for (const k of netlink) {
          const byDefault = k.includes('RCV') ? rmemDefault : wmemDefault;
          expect(Number(kernel[k]), `${what}: ${k}`).to.be.above(byDefault);
          expect(got[k], `${what}: ${k}`).to.equal(String(byDefault));
        }
        for (const k of ['netlink SO_RCVBUFFORCE', 'netlink SO_SNDBUFFORCE']) {
          expect(got[k], `${what}: ${k}`).to.equal('EPERM');
          expect(kernel[k], `${what}: ${k}`).to.equal(what === 'as nobody' ? 'EPERM' : String(2 * 256 * 1024));
        }
        // i386's socketcall: its arguments are in memory, where init cannot check them.
        if (kernel['i386 socketcall(SYS_SETSOCKOPT)'] !== undefined) expect(got['i386 socketcall(SYS_SETSOCKOPT)'], what).to.equal('ENOSYS');
        // Everything else as the kernel answers: other sockets' buffers (from a thread, i386, *FORCE
        // with and without the capability), a short length, a bad pointer, a file, a closed fd.
        const same = Object.keys(kernel).filter((k) => !kept.test(k) && !/^netlink SO_(RCV|SND)BUFFORCE$/.test(k) && !k.includes('socketcall'));
        expect(same.length, what).to.be.above(16);
        for (const k of same) expect(got[k], `${what}: ${k}`).to.equal(kernel[k]);
        expect(got['inet SO_RCVBUF'], what).to.equal(String(2 * Math.min(256 * 1024, rmemMax)));
        expect(got['inet SO_SNDBUF'], what).to.equal(String(2 * Math.min(256 * 1024, wmemMax)));
        expect(got['inet SO_RCVBUFFORCE'], what).to.equal(what === 'as nobody' ? 'EPERM' : String(2 * 256 * 1024));
      }
    } finally {
      probe.release();
    }
  });

  // A socket passed out of its container (SCM_RIGHTS, over a Unix socket
  // another container reaches) outlives it: a review's holder gathered 2,400
  // from 150 short-lived containers, 510 MB queued under memory: '64M'. The
  // set that counts them outlives the container too (csrc/netlink_ledger.h),
  // and while 64 or more are open no new container gets a socket. Both ways
  // containers reach each other: a writable mount both have, and before
  // Linux 6.12 the host's network (an abstract socket; from 6.12 init's
  // Landlock domain keeps each container to its own: cross-container.test.ts).
  it('should count netlink sockets passed out of an ended container until they close, and give new containers none meanwhile', async function () {
    skipUnless(this, cgroupsUnavailable());
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    const shared = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    chmodSync(shared, 0o777); // the payload runs as nobody
    const limits = { timeout: 30_000, mounts: [probe.mount], cgroup: { memory: '64M', pids: 64 } };
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as Error & { code?: string }).code === 'ISOLATE_KIT_NETLINK_REFUSED') warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const layouts: [string, Parameters<typeof Container.run>[1], string][] = [
        ['own networks, a shared writable mount', { ...limits, mounts: [probe.mount, { type: 'bind', source: shared, target: '/tmp/shared' }] }, '/tmp/shared/holder'],
      ];
      if (landlockAbi() < 6) layouts.push(["network: 'host', an abstract socket", { ...limits, network: 'host' }, `@isolate-kit-test-${process.pid}`]);
      for (const [what, options, address] of layouts) {
        const run = async (...args: string[]) => {
          const r = await Container.run([NETLINK_FILL, ...args], options);
          expect(r.status, `${what}: ${r.stderr}`).to.equal('ok');
          return r.stdout;
        };
        const holder = run('hold', address);
        try {
          // Four containers' worth may outlive them (a Unix garbage cycle lives on for ms).
          for (let giver = 1; giver <= 4; giver++) {
            expect(await run('give', address), `${what}: giver ${giver}`).to.equal('gave 16 ENOBUFS\n');
            // Its container has ended; its 16 are open in the holder.
            expect(native().netlinkOrphans(true), what).to.equal(16 * giver);
          }
          expect(await run('give', address), what).to.equal('gave 0 ENOBUFS\n');
          expect(await run('again', '20'), what).to.equal('first 0 again 0\n');
          // The operator hears of it, once per episode.
          await new Promise((resolve) => setImmediate(resolve));
          expect(warnings.map((w) => w.message), what).to.deep.equal([
            '64 netlink sockets made in containers that have ended are still open elsewhere (passed out through a Unix socket); new containers get no netlink socket until they close (docs/security.md)',
          ]);
          warnings.length = 0;
        } finally {
          await run('give', address, 'end');
          expect(await holder, what).to.equal('held 64\n');
        }
        // Closed with the holder: counted no more, and new containers get them again.
        expect(native().netlinkOrphans(true), what).to.equal(0);
        expect(await run('again', '20'), what).to.equal('first 16 again 16\n');
      }
      // Sockets a payload leaves in a Unix garbage cycle outlive it until the kernel's
      // collector runs (ms on 6.18): the next start still gets its sockets.
      for (let round = 0; round < 5; round++) {
        const [cycled, next] = [await Container.run([NETLINK_FILL, 'cycle', '20'], limits), await Container.run([NETLINK_FILL, 'again', '20'], limits)];
        expect(cycled.stdout).to.equal('cycle 16\n');
        expect(next.stdout).to.equal('first 16 again 16\n');
      }
    } finally {
      process.off('warning', onWarning);
      rmSync(shared, { recursive: true, force: true });
      probe.release();
    }
  });

  // The set init counts a container's sockets in is made by the addon and
  // handed to init at the start. A review found that, sent to Node when
  // the first socket was made, it was lost when Node's fd table was full
  // then (the kernel drops the fd): the donor's sockets counted nowhere.
  it('should count the sockets of a container that makes them while the Node process has no fd free', async function () {
    this.timeout(60_000);
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    try {
      const f = runFixture('netlink-fd-full', [probe.mount.source], ['prlimit', '--nofile=256:256']);
      const got = JSON.parse(await f.line(/"filled"/, 50_000)) as Record<string, unknown>;
      expect(await f.exited, f.stderr()).to.equal(0);
      expect(got.filled, 'the table was filled').to.be.above(0);
      expect(got).to.deep.include({ gave: 'gave 16 ENOBUFS', counted: 16, held: 'held 16', after: 0 });
    } finally {
      probe.release();
    }
  });

  // The kernel allows one seccomp listener per chain of filters: under a
  // supervisor of Node's own (a container engine's), init cannot have one.
  // Containers must still start, their filter allowing what init would
  // have answered.
  it('should still start containers when Node runs under a seccomp listener of its own, with no netlink count then', async function () {
    const built = buildProbes();
    skipUnless(this, typeof built === 'string' ? built : null);
    const probe = built as Probes;
    try {
      const lib = join(__dirname, '..', '..', 'lib');
      const script = `require(${JSON.stringify(lib)}).Container.run([${JSON.stringify(NETLINK_FILL)}, 'again', '20'], { mounts: [${JSON.stringify(probe.mount)}], timeout: 20000 })
        .then((r) => { process.stdout.write(r.stdout + r.status + '\\n'); }, (e) => { console.error(e); process.exitCode = 1; });`;
      const r = spawnSync(probe.path('outer_listener'), [process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.equal('first 20 again 20\nok\n');
    } finally {
      probe.release();
    }
  });
});
