/**
 * Seccomp profiles (Docker's and the OCI spec's JSON): compiled by the real
 * libseccomp, installed by init in real processes, checked from inside by
 * what the calls answer. Plus every malformed profile refused up front.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Container, IsolateError, type SeccompProfile } from '../../lib';
import { native } from '../../lib/native';
import { resolveSeccompProfile } from '../../lib/seccomp-profile';
import { needContainers, skipUnless } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

/** Prints, per call, "name errno" (0: it worked). */
const CALLS = `
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.personality.argtypes = [ctypes.c_ulong]  # as glibc declares it: 0xffffffff zero-extended
def call(name, f):
    try:
        r = f()
        if r is not None and isinstance(r, int) and r < 0:
            print(name, ctypes.get_errno())
        else:
            print(name, 0)
    except OSError as e:
        print(name, e.errno)
tests = {
    'mkdir': lambda: os.mkdir('/tmp/d'),
    'getcwd': lambda: libc.getcwd(ctypes.create_string_buffer(4096), 4096) or -1,
    'uname': lambda: os.uname() and None,
    'personality-query': lambda: libc.personality(0xffffffff),
    'personality-set': lambda: libc.personality(0x0008),
    'udp4': lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close(),
    'udp4-cloexec': lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC).close(),
    'tcp4': lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(),
    'udp6': lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close(),
    'unix': lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close(),
}
for name in sys.argv[1:]:
    call(name, tests[name])
`;

async function calls(seccomp: SeccompProfile, names: string[], extra: Parameters<typeof Container.run>[1] = {}): Promise<Record<string, number>> {
  const r = await Container.run(['python3', '-I', '-c', CALLS, ...names], { seccomp, timeout: 20_000, ...extra });
  expect(r.status, `${r.stderr}${r.error?.message ?? ''}`).to.equal('ok');
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1])]));
}

const EPERM = 1;
const ENOENT = 2;
const EACCES = 13;
const EOPNOTSUPP = 95;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;

/** Every native syscall name this machine's headers list (x86_64), or null. */
function nativeSyscalls(): string[] | null {
  const header = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
  if (process.arch !== 'x64' || !existsSync(header)) return null;
  return [...readFileSync(header, 'utf8').matchAll(/^#define __NR_(\w+) \d+$/gm)].map((m) => m[1]!);
}

function refused(fn: () => unknown): IsolateError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(IsolateError);
    return err as IsolateError;
  }
  throw new Error('accepted');
}

describe('Container seccomp profiles', function () {
  this.timeout(60_000);
  before(function () {
    needContainers(this);
    skipUnless(this, native().libseccomp() === null ? null : `libseccomp.so.2 cannot be loaded: ${native().libseccomp()}`);
  });

  it('should refuse the calls a profile refuses, with its errno, and leave the rest', async function () {
    const r = await calls(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' },
          { names: ['getcwd'], action: 'SCMP_ACT_ERRNO', errnoRet: EOPNOTSUPP },
        ],
      },
      ['mkdir', 'getcwd', 'uname'],
    );
    expect(r).to.deep.equal({ mkdir: EPERM, getcwd: EOPNOTSUPP, uname: 0 });
  });

  it('should compare arguments: conditions on different arguments all, on one argument any, masked', async function () {
    const r = await calls(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          // Docker's way with personality(): only the query.
          { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_NE' }] },
          // AND: IPv4 and (type & 0xf) a datagram, SOCK_CLOEXEC or not.
          {
            names: ['socket'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: EACCES,
            args: [
              { index: 0, value: AF_INET, op: 'SCMP_CMP_EQ' },
              { index: 1, value: 0xf, valueTwo: SOCK_DGRAM, op: 'SCMP_CMP_MASKED_EQ' },
            ],
          },
          // OR: two conditions on the family.
          {
            names: ['socket'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: ENOENT,
            args: [
              { index: 0, value: AF_INET6, op: 'SCMP_CMP_EQ' },
              { index: 0, value: 1 /* AF_UNIX */, op: 'SCMP_CMP_EQ' },
            ],
          },
        ],
      },
      ['personality-query', 'personality-set', 'udp4', 'udp4-cloexec', 'tcp4', 'udp6', 'unix'],
    );
    expect(r).to.deep.equal({ 'personality-query': 0, 'personality-set': EPERM, udp4: EACCES, 'udp4-cloexec': EACCES, tcp4: 0, udp6: ENOENT, unix: ENOENT });
  });

  it('should take an allowlist: the default action and its errno for every call not listed', async function () {
    const all = nativeSyscalls();
    skipUnless(this, all ? null : 'no x86_64 syscall list here (asm/unistd_64.h)');
    const profile: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: EOPNOTSUPP,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: all!.filter((n) => n !== 'getcwd' && n !== 'uname'), action: 'SCMP_ACT_ALLOW' }],
    };
    expect(await calls(profile, ['getcwd', 'uname', 'mkdir'])).to.deep.equal({ getcwd: EOPNOTSUPP, uname: EOPNOTSUPP, mkdir: 0 });
  });

  it('should run a profile shaped as Docker\'s default: archMap, an allowlist, clone by its flags, clone3 as ENOSYS', async function () {
    const all = nativeSyscalls();
    skipUnless(this, all ? null : 'no x86_64 syscall list here (asm/unistd_64.h)');
    const guarded = ['clone', 'clone3', 'personality', 'socket', 'unshare', 'mount', 'umount2', 'setns', 'getcwd'];
    const profile: SeccompProfile = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: EPERM,
      archMap: [
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
        { architecture: 'SCMP_ARCH_RISCV64', subArchitectures: null },
      ],
      syscalls: [
        { names: all!.filter((n) => !guarded.includes(n)), action: 'SCMP_ACT_ALLOW' },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['getcwd'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] }, comment: 'only with the capability' },
      ],
    };
    // A shell forks (clone without namespace flags; glibc's clone3 gets ENOSYS and falls back).
    const r = await Container.run(['sh', '-c', 'echo $(echo forked); unshare -m true 2>/dev/null || echo no-unshare'], { seccomp: profile });
    expect(r.stdout, r.stderr).to.equal('forked\nno-unshare\n');
    expect(await calls(profile, ['personality-query', 'personality-set', 'tcp4', 'getcwd'])).to.deep.equal({
      'personality-query': 0,
      'personality-set': EPERM,
      tcp4: 0,
      getcwd: EPERM,
    });
  });

  it('should take from an archMap only the entry of this machine, whatever the others list', function () {
    const native = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' }[process.arch as string];
    skipUnless(this, native ? null : `no archMap entry written for ${process.arch}`);
    const sub = native === 'SCMP_ARCH_X86_64' ? 'SCMP_ARCH_X86' : 'SCMP_ARCH_ARM';
    const token = native === 'SCMP_ARCH_X86_64' ? 0x40000003 : 0x40000028;
    const archMap = [
      { architecture: native!, subArchitectures: [sub] },
      { architecture: 'SCMP_ARCH_S390X', subArchitectures: [sub, 'SCMP_ARCH_S390'] },
    ];
    expect(resolveSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', archMap }, 0n).arches).to.deep.equal([token]);
    expect(resolveSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [...archMap].reverse() }, 0n).arches).to.deep.equal([token]);
    expect(resolveSeccompProfile({ defaultAction: 'SCMP_ACT_ALLOW', archMap: archMap.slice(1) }, 0n).arches).to.deep.equal([]);
  });

  it('should apply a rule only where its includes and excludes hold: capabilities, architecture, kernel', async function () {
    const rule = (extra: object) => ({ names: ['getcwd'], action: 'SCMP_ACT_ERRNO' as const, ...extra });
    const cases: [object, string[] | undefined, number][] = [
      [{ includes: { caps: ['CAP_NET_RAW'] } }, ['CAP_NET_RAW'], EPERM],
      [{ includes: { caps: ['CAP_NET_RAW'] } }, undefined, 0],
      [{ excludes: { caps: ['CAP_NET_RAW'] } }, ['CAP_NET_RAW'], 0],
      [{ excludes: { caps: ['CAP_NET_RAW'] } }, undefined, EPERM],
      [{ includes: { arches: ['amd64', 'arm64'] } }, undefined, EPERM],
      [{ includes: { arches: ['s390x'] } }, undefined, 0],
      [{ excludes: { arches: ['amd64', 'arm64'] } }, undefined, 0],
      [{ includes: { minKernel: '3.10' } }, undefined, EPERM],
      [{ includes: { minKernel: '99.0' } }, undefined, 0],
    ];
    for (const [extra, capabilities, expected] of cases) {
      const r = await calls({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [rule(extra)] }, ['getcwd'], { capabilities, user: { uid: 0, gid: 0 } });
      expect(r.getcwd, JSON.stringify([extra, capabilities])).to.equal(expected);
    }
  });

  it('should end a process the profile kills, or traps, with SIGSYS', async function () {
    for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP'] as const) {
      const r = await Container.run(['python3', '-I', '-c', 'import os; print("before", flush=True); os.getcwd(); print("after")'], {
        seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action }] },
      });
      expect(r.status, action).to.equal('signaled');
      expect(r.signal, action).to.equal('SIGSYS');
      expect(r.stdout, action).to.equal('before\n');
    }
  });

  it('should not lift init\'s filter: no user namespace even where the profile allows everything', async function () {
    const r = await Container.run(['sh', '-c', 'unshare -U true; echo $?; unshare -Ur true; echo $?'], {
      user: { uid: 0, gid: 0 },
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['unshare', 'clone'], action: 'SCMP_ACT_ALLOW' }] },
    });
    expect(r.stdout).to.equal('1\n1\n');
    expect(r.stderr).to.match(/^unshare: unshare failed: Operation not permitted\n/);
  });

  it('should apply it to every process: the main one, exec\'d ones, their children', async function () {
    const c = new Container({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] } });
    try {
      await c.start();
      const r = await c.run(['sh', '-c', 'mkdir /tmp/a; sh -c "mkdir /tmp/b"; echo done']);
      expect(r.stdout).to.equal('done\n');
      expect(r.stderr.match(/Operation not permitted/g)).to.have.length(2);
      expect(await c.run(['sh', '-c', 'mkdir /tmp/c'])).to.include({ status: 'nonzero' });
    } finally {
      await c.destroy();
    }
  });

  it('should report a profile that refuses execve as the exec step failing', async function () {
    const r = await Container.run(['true'], { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['execve', 'execveat'], action: 'SCMP_ACT_ERRNO' }] } });
    expect(r.status).to.equal('error');
    expect(r.error).to.be.instanceOf(IsolateError);
    expect(r.error!.message).to.equal('Cannot run `true` in the container: execve: EPERM (operation not permitted)');
  });

  it('should skip rules for syscalls libseccomp does not know, as Docker does', async function () {
    const r = await calls(
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['no_such_call_at_all', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] },
      ['mkdir'],
    );
    expect(r).to.deep.equal({ mkdir: EPERM });
  });

  it('should accept \'default\' as the filter alone, and refuse a bad profile before anything is made, naming the field', function () {
    expect(() => new Container({ seccomp: 'default' })).to.not.throw();
    const cases: [unknown, string, RegExp, string?][] = [
      ['strict', 'seccomp', /'default', 'unconfined' or a seccomp profile/],
      [{ defaultAction: 'ALLOW' }, 'seccomp.defaultAction', /one of SCMP_ACT_ALLOW/],
      [{ defaultAction: 'SCMP_ACT_NOTIFY' }, 'seccomp.defaultAction', /seccomp agent/, 'ERR_UNSUPPORTED'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }, 'seccomp.defaultErrnoRet', /only SCMP_ACT_ERRNO and SCMP_ACT_TRACE/],
      [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }, 'seccomp.defaultErrnoRet', /errno from 0 to 65535/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', bogus: 1 }, 'seccomp.bogus', /Unknown seccomp profile option/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }, 'seccomp.architectures[0]', /an architecture/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'] }, 'seccomp.flags[0]', /not supported/, 'ERR_UNSUPPORTED'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }, 'seccomp.listenerPath', /seccomp agent/, 'ERR_UNSUPPORTED'],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: {} }, 'seccomp.syscalls', /an array of rules/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, 'seccomp.syscalls[0].names', /at least one syscall name/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['Mkdir;'], action: 'SCMP_ACT_ERRNO' }] }, 'seccomp.syscalls[0].names[0]', /a syscall name/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }, 'seccomp.syscalls[0].args[0].index', /from 0 to 5/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] }, 'seccomp.syscalls[0].args[0].value', /non-negative integer below 2\^64/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, op: 'EQ' }] }] }, 'seccomp.syscalls[0].args[0].op', /one of SCMP_CMP_NE/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_FLY'] } }] }, 'seccomp.syscalls[0].includes.caps[0]', /capability name/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', includes: { minKernel: 'new' } }] }, 'seccomp.syscalls[0].includes.minKernel', /kernel version/],
      [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', excludes: { cpus: 2 } }] }, 'seccomp.syscalls[0].excludes.cpus', /Unknown seccomp profile option/],
    ];
    for (const [seccomp, option, message, code = 'ERR_INVALID_OPTION'] of cases) {
      const err = refused(() => new Container({ seccomp: seccomp as SeccompProfile }));
      expect(err.code, JSON.stringify(seccomp)).to.equal(code);
      expect(err.option, JSON.stringify(seccomp)).to.equal(option);
      expect(err.message, JSON.stringify(seccomp)).to.match(message);
    }
    const nnp = refused(() => new Container({ noNewPrivileges: false, seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } }));
    expect(nnp.option).to.equal('noNewPrivileges');
    expect(nnp.message).to.match(/only under no_new_privs/);
    expect(() => new Container({ noNewPrivileges: false, capabilities: ['CAP_SYS_ADMIN'], seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } })).to.not.throw();
  });

  it('should check a profile again once it changed, though the compiled one is kept', function () {
    const profile: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    expect(() => new Container({ seccomp: profile })).to.not.throw();
    expect(() => new Container({ seccomp: profile })).to.not.throw();
    profile.syscalls![0]!.action = 'SCMP_ACT_DENY' as never;
    expect(refused(() => new Container({ seccomp: profile })).option).to.equal('seccomp.syscalls[0].action');
    // What JSON cannot say is checked every time: a bigint operand is fine, a function where an errno goes is not.
    const big: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 2n ** 63n, op: 'SCMP_CMP_EQ' }] }] };
    expect(() => new Container({ seccomp: big })).to.not.throw();
    expect(() => new Container({ seccomp: big })).to.not.throw();
    const ok: SeccompProfile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    expect(() => new Container({ seccomp: ok })).to.not.throw();
    const fn = { ...ok, syscalls: [{ ...ok.syscalls![0]!, errnoRet: (() => 1) as never }] };
    expect(refused(() => new Container({ seccomp: fn })).option).to.equal('seccomp.syscalls[0].errnoRet');
  });

  it('should refuse a profile longer than the kernel takes, before anything is made', function () {
    const args = Array.from({ length: 5000 }, (_, i) => ({ index: 1, value: i, op: 'SCMP_CMP_EQ' as const }));
    const err = refused(() => new Container({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args }] } }));
    expect(err.code).to.equal('ERR_UNSUPPORTED');
    expect(err.message).to.match(/compiles to \d+ BPF instructions; the kernel takes at most 4096/);
  });

  it('should refuse a profile with ERR_UNSUPPORTED where libseccomp cannot be loaded, and probe() say so', function () {
    // The library hidden in a mount namespace of a child's own: /dev/null bound on it.
    const lib = /\s=>\s(\S+)$/m.exec(spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('libseccomp.so.2')).join('\n'))?.[1];
    expect(lib, 'ldconfig -p lists libseccomp.so.2').to.be.a('string');
    const script = `
      const { Container, probe } = require(${JSON.stringify(join(__dirname, '..', '..', 'lib'))});
      let err;
      try { new Container({ seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } }); } catch (e) { err = e; }
      const p = probe();
      console.log(JSON.stringify({ code: err && err.code, option: err && err.option, message: err && err.message, probe: p.libseccomp,
        plain: (() => { try { new Container({ seccomp: 'default' }); return 'ok'; } catch (e) { return e.message; } })() }));
    `;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$1" -e "$2"', lib!, process.execPath, script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { code: string; option: string; message: string; probe: { ok: boolean; reason?: string }; plain: string };
    expect(out.code).to.equal('ERR_UNSUPPORTED');
    expect(out.option).to.equal('seccomp');
    expect(out.message).to.match(/^A seccomp profile needs libseccomp \(libseccomp\.so\.2\), which cannot be loaded: .*libseccomp\.so\.2/);
    expect(out.probe.ok).to.equal(false);
    expect(out.plain).to.equal('ok');
  });

  it('should run with a profile from the command line, and refuse a file that is not one', function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      const main = join(__dirname, '..', '..', 'lib', 'cli', 'main.js');
      const file = join(dir, 'profile.json');
      writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
      const ok = spawnSync(process.execPath, [main, 'run', '--seccomp', file, '--', 'sh', '-c', 'mkdir /tmp/x || echo refused'], { encoding: 'utf8' });
      expect(ok.status, ok.stderr).to.equal(0);
      expect(ok.stdout).to.equal('refused\n');
      writeFileSync(file, '{ not json');
      const bad = spawnSync(process.execPath, [main, 'run', '--seccomp', file, '--', 'true'], { encoding: 'utf8' });
      expect(bad.status).to.equal(125);
      expect(bad.stderr).to.match(/--seccomp .*profile\.json: the file is not JSON/);
      const missing = spawnSync(process.execPath, [main, 'run', '--seccomp', join(dir, 'nope.json'), '--', 'true'], { encoding: 'utf8' });
      expect(missing.status).to.equal(125);
      expect(missing.stderr).to.match(/cannot be read \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

