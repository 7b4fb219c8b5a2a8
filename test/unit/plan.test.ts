/**
 * PlanBuilder.build(): the byte layout init reads (csrc/ik_plan.h), decoded
 * here independently of the builder: a 32-byte header, 48-byte op records,
 * then a data area of NUL-terminated, deduplicated strings and 4-aligned
 * { count, items[] } lists.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planCgroupfs, planFilesystem } from '../../lib/filesystem';
import { LayerStack } from '../../lib/layer-stack';
import { packageRoot } from '../../lib/native';
import {
  Op,
  OpFlag,
  PLAN_F_MNTNS,
  PLAN_F_PIDNS,
  PLAN_F_TRACE,
  PLAN_MAGIC,
  PLAN_MAX_BYTES,
  PLAN_MAX_OPS,
  PLAN_VERSION,
  PlanBuilder,
  SYSCALL_NAMES,
} from '../../lib/plan';
import { DEFAULT_ENV, NOBODY, planProcess, type ProcessSpec } from '../../lib/process-options';

const HEADER = 32;
const OP = 48;

interface Header {
  magic: number;
  version: number;
  length: number;
  opCount: number;
  opsOffset: number;
  flags: number;
  reserved: [number, number];
}

interface DecodedOp {
  type: number;
  flags: number;
  str: number[];
  num: bigint[];
}

function header(buf: Buffer): Header {
  return {
    magic: buf.readUInt32LE(0),
    version: buf.readUInt32LE(4),
    length: buf.readUInt32LE(8),
    opCount: buf.readUInt32LE(12),
    opsOffset: buf.readUInt32LE(16),
    flags: buf.readUInt32LE(20),
    reserved: [buf.readUInt32LE(24), buf.readUInt32LE(28)],
  };
}

function ops(buf: Buffer): DecodedOp[] {
  const h = header(buf);
  const out: DecodedOp[] = [];
  for (let i = 0; i < h.opCount; i++) {
    const o = h.opsOffset + i * OP;
    out.push({
      type: buf.readUInt32LE(o),
      flags: buf.readUInt32LE(o + 4),
      str: [0, 1, 2, 3].map((k) => buf.readUInt32LE(o + 8 + k * 4)),
      num: [0, 1, 2].map((k) => buf.readBigUInt64LE(o + 24 + k * 8)),
    });
  }
  return out;
}

/** The NUL-terminated UTF-8 string at `off`, which must lie in the data area. */
function cstr(buf: Buffer, off: number | bigint): string {
  const at = Number(off);
  const h = header(buf);
  expect(at, 'string offset inside the data area').to.be.at.least(h.opsOffset + h.opCount * OP);
  expect(at).to.be.below(buf.length);
  const end = buf.indexOf(0, at);
  expect(end, `NUL after the string at ${at}`).to.be.at.least(at);
  return buf.toString('utf8', at, end);
}

/** The { u32 count; u32 items[] } list at `off`. */
function list(buf: Buffer, off: number | bigint): number[] {
  const at = Number(off);
  expect(at % 4, `list offset ${at} is 4-aligned`).to.equal(0);
  const count = buf.readUInt32LE(at);
  expect(at + 4 + count * 4).to.be.at.most(buf.length);
  return Array.from({ length: count }, (_, i) => buf.readUInt32LE(at + 4 + i * 4));
}

describe('PlanBuilder#build()', function () {
  it('should write a 32-byte header for an empty plan', function () {
    const buf = new PlanBuilder().build();
    expect(buf.length).to.equal(HEADER);
    expect(header(buf)).to.deep.equal({
      magic: PLAN_MAGIC,
      version: PLAN_VERSION,
      length: HEADER,
      opCount: 0,
      opsOffset: HEADER,
      flags: 0,
      reserved: [0, 0],
    });
    expect(buf.subarray(0, 4).toString('latin1')).to.equal('IPK1');
  });

  it('should carry the plan flags and the total length in the header', function () {
    const b = new PlanBuilder();
    b.flags = PLAN_F_PIDNS | PLAN_F_MNTNS | PLAN_F_TRACE;
    b.add(Op.Loopback, { description: 'bring up lo' });
    b.add(Op.Hostname, { description: 'set hostname box' }, { str: ['box'] });
    const buf = b.build();
    const h = header(buf);
    expect(h.flags).to.equal(0x7);
    expect(h.length).to.equal(buf.length);
    expect(h.opCount).to.equal(2);
    expect(h.opsOffset).to.equal(HEADER);
    expect(h.opsOffset % 8).to.equal(0);
    expect(buf.length).to.equal(HEADER + 2 * OP + 'box\0'.length);
  });

  it('should write one 48-byte record per op: type, flags, 4 string offsets, 3 u64 numbers', function () {
    const b = new PlanBuilder();
    expect(b.add(Op.Mount, { description: 'mount tmpfs on /x' }, { flags: OpFlag.Mkdir, str: ['tmpfs', '/x', 'tmpfs', 'size=1'], num: [6] })).to.equal(0);
    expect(b.add(Op.Rlimit, { description: 'set rlimit nofile' }, { num: [7, 64n, 128] })).to.equal(1);
    expect(b.add(Op.NoNewPrivs, { description: 'set no_new_privs' })).to.equal(2);
    expect(b.length).to.equal(3);
    const buf = b.build();
    const [mount, rlimit, nnp] = ops(buf);
    const dataStart = HEADER + 3 * OP;
    expect(mount!.type).to.equal(2);
    expect(mount!.flags).to.equal(0x4);
    // 'tmpfs' is stored once: str0 and str2 share it
    expect(mount!.str).to.deep.equal([dataStart, dataStart + 6, dataStart, dataStart + 9]);
    expect(mount!.str.map((o) => cstr(buf, o))).to.deep.equal(['tmpfs', '/x', 'tmpfs', 'size=1']);
    expect(mount!.num).to.deep.equal([6n, 0n, 0n]);
    expect(rlimit).to.deep.equal({ type: 20, flags: 0, str: [0, 0, 0, 0], num: [7n, 64n, 128n] });
    expect(nnp).to.deep.equal({ type: 23, flags: 0, str: [0, 0, 0, 0], num: [0n, 0n, 0n] });
    expect(buf.length).to.equal(dataStart + 'tmpfs\0/x\0size=1\0'.length);
  });

  it('should keep 0 for absent strings and give the empty string a real offset', function () {
    const b = new PlanBuilder();
    b.add(Op.Symlink, { description: 'x' }, { str: [undefined, '', undefined, 'z'] });
    const buf = b.build();
    const [op] = ops(buf);
    expect(op!.str[0]).to.equal(0);
    expect(op!.str[2]).to.equal(0);
    expect(op!.str[1]).to.equal(HEADER + OP);
    expect(buf[op!.str[1]!]).to.equal(0);
    expect(cstr(buf, op!.str[1]!)).to.equal('');
    expect(cstr(buf, op!.str[3]!)).to.equal('z');
  });

  it('should store strings as NUL-terminated UTF-8', function () {
    const b = new PlanBuilder();
    b.add(Op.Hostname, { description: 'x' }, { str: ['héllo wörld ✓'] });
    const buf = b.build();
    const off = ops(buf)[0]!.str[0]!;
    expect(cstr(buf, off)).to.equal('héllo wörld ✓');
    expect(buf.length).to.equal(off + Buffer.byteLength('héllo wörld ✓') + 1);
    expect(buf[buf.length - 1]).to.equal(0);
  });

  it('should store each distinct string once, across ops and lists', function () {
    const b = new PlanBuilder();
    b.add(Op.Chdir, { description: 'chdir /tmp' }, { str: ['/tmp'] });
    b.add(Op.Exec, { description: 'exec /tmp' }, { str: ['/tmp', 'PATH'], num: [{ strings: ['/tmp', 'a', '/tmp', 'a'] }, { strings: ['PATH'] }] });
    b.add(Op.Hostname, { description: 'x' }, { str: ['a'] });
    const buf = b.build();
    const [chdir, exec, host] = ops(buf);
    expect(exec!.str[0]).to.equal(chdir!.str[0]);
    const argv = list(buf, exec!.num[0]!);
    expect(argv).to.deep.equal([chdir!.str[0], host!.str[0], chdir!.str[0], host!.str[0]]);
    expect(list(buf, exec!.num[1]!)).to.deep.equal([exec!.str[1]]);
    expect(argv.map((o) => cstr(buf, o))).to.deep.equal(['/tmp', 'a', '/tmp', 'a']);
    // Every distinct string appears exactly once in the data area.
    const data = buf.subarray(HEADER + 3 * OP).toString('latin1');
    for (const s of ['/tmp\0', 'PATH\0', 'a\0']) {
      expect(data.split(s).length - 1, s).to.equal(1);
    }
  });

  it('should 4-align every list and zero the padding before it', function () {
    for (const pad of ['', 'a', 'ab', 'abc', 'abcd']) {
      const b = new PlanBuilder();
      b.add(Op.Hostname, { description: 'x' }, { str: [pad] });
      b.add(Op.Creds, { description: 'creds' }, { flags: OpFlag.SetGroups, num: [0, { ids: [5, 0xfffffffe, 0] }, 0] });
      const buf = b.build();
      const creds = ops(buf)[1]!;
      const off = Number(creds.num[1]);
      expect(off % 4, `after a ${pad.length + 1}-byte string`).to.equal(0);
      const strEnd = ops(buf)[0]!.str[0]! + pad.length + 1;
      expect(off - strEnd).to.be.within(0, 3);
      expect([...buf.subarray(strEnd, off)].every((x) => x === 0)).to.equal(true);
      expect(list(buf, off)).to.deep.equal([5, 0xfffffffe, 0]);
      expect(buf.length).to.equal(off + 4 + 3 * 4);
    }
  });

  it('should write empty lists as a count of 0 at a non-zero offset', function () {
    const b = new PlanBuilder();
    b.add(Op.Creds, { description: 'creds' }, { num: [0, { ids: [] }, 0] });
    const buf = b.build();
    const off = ops(buf)[0]!.num[1]!;
    expect(off).to.not.equal(0n);
    expect(list(buf, off)).to.deep.equal([]);
  });

  it('should write numbers as unsigned 64-bit little-endian values', function () {
    const b = new PlanBuilder();
    b.add(Op.Rlimit, { description: 'x' }, { num: [0xffffffff, (1n << 64n) - 1n, -1] });
    b.add(Op.Creds, { description: 'y' }, { num: [BigInt(65534) | (BigInt(65533) << 32n), 0, 1n << 40n] });
    const buf = b.build();
    const [a, c] = ops(buf);
    expect(a!.num).to.deep.equal([0xffffffffn, (1n << 64n) - 1n, (1n << 64n) - 1n]);
    expect(c!.num[0]! & 0xffffffffn).to.equal(65534n);
    expect(c!.num[0]! >> 32n).to.equal(65533n);
    expect(c!.num[2]).to.equal(1n << 40n);
    const o = HEADER + OP + 24;
    expect([...buf.subarray(o, o + 8)]).to.deep.equal([0xfe, 0xff, 0, 0, 0xfd, 0xff, 0, 0]);
  });

  it('should keep one step description per op, in order', function () {
    const b = new PlanBuilder();
    b.add(Op.Loopback, { description: 'bring up lo' });
    b.add(Op.Chdir, { description: 'chdir /x', path: '/x' }, { str: ['/x'] });
    expect(b.steps).to.deep.equal([{ description: 'bring up lo' }, { description: 'chdir /x', path: '/x' }]);
  });

  it('should build a plan of exactly PLAN_MAX_BYTES and throw RangeError one byte above', function () {
    expect(PLAN_MAX_BYTES).to.equal(1 << 26);
    const fits = 'x'.repeat(PLAN_MAX_BYTES - HEADER - OP - 1);
    const b = new PlanBuilder();
    b.add(Op.Hostname, { description: 'x' }, { str: [fits] });
    const buf = b.build();
    expect(buf.length).to.equal(PLAN_MAX_BYTES);
    expect(header(buf).length).to.equal(PLAN_MAX_BYTES);

    const over = new PlanBuilder();
    over.add(Op.Hostname, { description: 'x' }, { str: [`${fits}y`] });
    expect(() => over.build()).to.throw(
      RangeError,
      `The container plan is ${PLAN_MAX_BYTES + 1} bytes; the limit is ${PLAN_MAX_BYTES} (arguments and environment too large?)`,
    );
  });

  it('should count list items and padding towards the size', function () {
    const b = new PlanBuilder();
    // Strings '0'..'9' once each (2 bytes), then a list of 300,000 items
    // (4 bytes each, after a count), aligned to 4; an empty list after it.
    const strings = Array.from({ length: 300_000 }, (_, i) => String(i % 10));
    b.add(Op.Exec, { description: 'exec' }, { str: ['0'], num: [{ strings }, { strings: [] }] });
    const data = HEADER + OP + 10 * 2;
    expect(b.build().length).to.equal(data + ((4 - (data % 4)) % 4) + 4 + 300_000 * 4 + 4);
  });

  it('should throw RangeError past PLAN_MAX_OPS steps', function () {
    expect(PLAN_MAX_OPS).to.equal(4096);
    const b = new PlanBuilder();
    for (let i = 0; i < PLAN_MAX_OPS; i++) b.add(Op.Loopback, { description: 'x' });
    expect(b.build().readUInt32LE(12)).to.equal(PLAN_MAX_OPS);
    b.add(Op.Loopback, { description: 'x' });
    expect(() => b.build()).to.throw(RangeError, 'The container plan has 4097 steps; the limit is 4096 (too many mounts?)');
  });

  it('should lay out a process plan the way init reads it', function () {
    const spec: ProcessSpec = {
      argv: ['sh', '-c', 'echo hi'],
      env: Object.entries({ ...DEFAULT_ENV, A: 'b' }).map(([k, v]) => `${k}=${v}`),
      cwd: '/tmp',
      user: { uid: 1000, gid: 1001, groups: [5, 6] },
      capabilities: 1n << 10n,
      noNewPrivileges: true,
      rlimits: [[7, 64n, 128n], [4, 0n, 0n]],
    };
    const b = new PlanBuilder();
    planProcess(b, 7, spec, 0b101); // stdin and stderr are the addon's pipes
    const buf = b.build();
    const decoded = ops(buf);
    expect(decoded.map((o) => o.type)).to.deep.equal([10, 20, 20, 21, 22, 23, 24]);
    expect(b.steps.map((s) => s.description)).to.deep.equal([
      'start sh',
      'set rlimit nofile',
      'set rlimit core',
      'switch to uid 1000 gid 1001',
      'chdir /tmp',
      'set no_new_privs',
      'exec sh',
    ]);
    const [proc, nofile, core, creds, chdir, , exec] = decoded;
    expect(proc!.num[0]).to.equal(7n);
    expect(proc!.num[1]).to.equal(5n);
    expect(nofile!.num).to.deep.equal([7n, 64n, 128n]);
    expect(core!.num).to.deep.equal([4n, 0n, 0n]);
    expect(creds!.flags).to.equal(OpFlag.SetGroups);
    expect(creds!.num[0]).to.equal(1000n | (1001n << 32n));
    expect(list(buf, creds!.num[1]!)).to.deep.equal([5, 6]);
    expect(creds!.num[2]).to.equal(1024n);
    expect(cstr(buf, chdir!.str[0]!)).to.equal('/tmp');
    expect(cstr(buf, exec!.str[0]!)).to.equal('sh');
    expect(cstr(buf, exec!.str[1]!)).to.equal('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(list(buf, exec!.num[0]!).map((o) => cstr(buf, o))).to.deep.equal(['sh', '-c', 'echo hi']);
    expect(list(buf, exec!.num[1]!).map((o) => cstr(buf, o))).to.deep.equal([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/tmp',
      'A=b',
    ]);
  });

  it('should produce a container filesystem plan that passes init\'s validation rules', function () {
    const b = new PlanBuilder();
    b.flags = PLAN_F_PIDNS | PLAN_F_MNTNS;
    planFilesystem(b, { rootfs: LayerStack.host(), mounts: [], staging: '/tmp', ownNetwork: true, readonlyRootfs: true });
    planProcess(b, 1, { argv: ['true'], env: [], cwd: '/', user: { ...NOBODY }, capabilities: 0n, noNewPrivileges: true, rlimits: [] });
    const buf = b.build();
    const decoded = ops(buf);
    expect(header(buf).opCount).to.equal(b.length);
    expect(decoded.length).to.be.below(4096); // IK_PLAN_MAX_OPS
    // The rules of ik_plan_validate() (csrc/init/plan_reader.c).
    const need: Record<number, number[]> = { 1: [0, 1], 2: [1, 2], 3: [0, 1], 4: [1], 5: [1], 12: [1], 7: [1], 6: [0, 1], 8: [0], 22: [0], 24: [0] };
    decoded.forEach((op, i) => {
      for (const s of op.str) if (s !== 0) cstr(buf, s);
      for (const k of need[op.type] ?? []) expect(op.str[k], `op ${i} (${b.steps[i]!.description}) str${k}`).to.not.equal(0);
    });
    expect(decoded[0]!.type).to.equal(1);
    expect(cstr(buf, decoded[0]!.str[0]!)).to.equal('/');
    expect(cstr(buf, decoded[0]!.str[1]!)).to.equal('/tmp');
    const pivot = decoded.findIndex((o) => o.type === 7);
    expect(cstr(buf, decoded[pivot]!.str[1]!)).to.equal('/tmp');
    // Only process ops after the pivot, starting with IK_OP_PROCESS.
    expect(decoded[pivot + 1]!.type).to.equal(10);
    expect(decoded.at(-1)!.type).to.equal(24);
  });

  it('should match the op, flag and syscall numbers of csrc/ik_plan.h', function () {
    const h = readFileSync(join(packageRoot(), 'csrc', 'ik_plan.h'), 'utf8');
    const value = (name: string) => {
      const m = new RegExp(`\\b${name}\\s*=\\s*(\\d+)`).exec(h) ?? new RegExp(`#define ${name}\\s+(0x[0-9a-f]+|\\d+)u?`).exec(h);
      expect(m, name).to.not.equal(null);
      return Number(m![1]);
    };
    const opsByName: Record<string, number> = {
      BIND: Op.Bind,
      MOUNT: Op.Mount,
      MASK: Op.Mask,
      READONLY: Op.Readonly,
      MKDIR: Op.Mkdir,
      SYMLINK: Op.Symlink,
      PIVOT_ROOT: Op.PivotRoot,
      HOSTNAME: Op.Hostname,
      LOOPBACK: Op.Loopback,
      PROCESS: Op.Process,
      UNSHARE: Op.Unshare,
      MKNOD: Op.Mknod,
      RLIMIT: Op.Rlimit,
      CREDS: Op.Creds,
      CHDIR: Op.Chdir,
      NO_NEW_PRIVS: Op.NoNewPrivs,
      EXEC: Op.Exec,
      DENY_USERNS: Op.DenyUserns,
      LANDLOCK: Op.Landlock,
      SESSION_KEYRING: Op.SessionKeyring,
    };
    for (const [name, n] of Object.entries(opsByName)) expect(value(`IK_OP_${name}`), name).to.equal(n);
    expect(value('IK_F_RECURSIVE')).to.equal(OpFlag.Recursive);
    expect(value('IK_F_OPTIONAL')).to.equal(OpFlag.Optional);
    expect(value('IK_F_MKDIR')).to.equal(OpFlag.Mkdir);
    expect(value('IK_F_MKFILE')).to.equal(OpFlag.Mkfile);
    expect(value('IK_F_SETGROUPS')).to.equal(OpFlag.SetGroups);
    expect(value('IK_PLAN_MAGIC')).to.equal(PLAN_MAGIC);
    expect(value('IK_PLAN_F_PIDNS')).to.equal(PLAN_F_PIDNS);
    expect(value('IK_PLAN_F_MNTNS')).to.equal(PLAN_F_MNTNS);
    expect(value('IK_PLAN_F_TRACE')).to.equal(PLAN_F_TRACE);
    const sc = [...h.matchAll(/\bIK_SC_([A-Z0-9_]+)\s*=\s*(\d+)/g)].map((m) => [m[1]!, Number(m[2])] as const);
    expect(sc.length).to.equal(SYSCALL_NAMES.length);
    for (const [name, n] of sc) expect(SYSCALL_NAMES[n], `IK_SC_${name}`).to.be.a('string');
    expect(SYSCALL_NAMES[22]).to.equal('execve');
    expect(SYSCALL_NAMES[12]).to.equal('chdir');
  });
});

describe('the cgroup view planned for /sys/fs/cgroup', function () {
  const hierarchies = [
    { name: 'memory', controllers: 'memory', dir: '/sys/fs/cgroup/memory/isolate-kit/g' },
    { name: 'pids', controllers: 'pids', dir: '/sys/fs/cgroup/pids/isolate-kit/g' },
  ];
  const plan = (hostRoot?: string) => {
    const b = new PlanBuilder();
    planCgroupfs(b, { version: 1, hierarchies, hostRoot }, '/new/sys/fs/cgroup');
    return ops(b.build()).map((o, i) => ({ type: o.type, what: b.steps[i]!.description }));
  };

  it('should bind the host tmpfs (alone) and each group, read-only, where the host has one tmpfs of hierarchies', function () {
    expect(plan('/sys/fs/cgroup')).to.deep.equal([
      { type: Op.Bind, what: 'bind the host /sys/fs/cgroup (its directories only) on /sys/fs/cgroup' },
      { type: Op.Bind, what: 'bind the cgroup (memory) on /sys/fs/cgroup/memory' },
      { type: Op.Bind, what: 'bind the cgroup (pids) on /sys/fs/cgroup/pids' },
    ]);
  });

  it('should otherwise make a tmpfs and mount each hierarchy in the cgroup namespace', function () {
    expect(plan().map((o) => o.what)).to.deep.equal([
      'mount tmpfs on /sys/fs/cgroup',
      'mkdir /sys/fs/cgroup/memory',
      'mkdir /sys/fs/cgroup/pids',
      'make /sys/fs/cgroup read-only',
      'mount cgroup (memory) on /sys/fs/cgroup/memory',
      'mount cgroup (pids) on /sys/fs/cgroup/pids',
    ]);
  });
});
