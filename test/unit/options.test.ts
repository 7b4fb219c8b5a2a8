/**
 * Every bad input gets an IsolateError with a stable code and an exact
 * message before anything is created: Container options, spawn()/run()
 * options, commands, and the Namespace class. Constructing or spawning with
 * bad input must leave no process and no fd behind (checked here and by the
 * root hook).
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Container, IsolateError, Namespace } from '../../lib';
import { CLONE_FLAGS, DEFAULT_KINDS, NAMESPACE_KINDS, type NamespaceKind } from '../../lib/namespace';
import { containersUnavailable } from '../helpers/caps';
import { TEMP_PREFIX, childProcesses, containerishFds } from '../helpers/leaks';
import { STRLEN_MAX } from '../fixtures/exec-strings';

type Code = IsolateError['code'];

interface Expected {
  code?: Code;
  message: string | RegExp;
  option?: string;
}

/** "Expected the `option` option to be …, got …" as lib/errors.ts words it. */
const NOT_AN_OBJECT = (shown: string): Expected => ({ message: `Expected the options to be an object, got ${shown}`, option: 'options' });

function msg(option: string, expected: string, shown: string): Expected {
  return { message: `Expected the \`${option}\` option to be ${expected}, got ${shown}`, option };
}

function check(err: unknown, e: Expected): void {
  expect(err, 'should have failed').to.be.instanceOf(IsolateError);
  const ie = err as IsolateError;
  if (typeof e.message === 'string') expect(ie.message).to.equal(e.message);
  else expect(ie.message).to.match(e.message);
  expect(ie.code).to.equal(e.code ?? 'ERR_INVALID_OPTION');
  if (e.option !== undefined) expect(ie.option).to.equal(e.option);
}

/** fn must throw synchronously. */
function throwsSync(fn: () => unknown, e: Expected): IsolateError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  check(caught, e);
  return caught as IsolateError;
}

/** fn must return a promise that rejects (async APIs do not throw synchronously). */
async function rejects(fn: () => Promise<unknown>, e: Expected): Promise<IsolateError> {
  let p: Promise<unknown>;
  try {
    p = fn();
  } catch (err) {
    throw new Error(`threw synchronously instead of rejecting: ${String(err)}`);
  }
  expect(p).to.be.instanceOf(Promise);
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  check(caught, e);
  return caught as IsolateError;
}

const CONTAINER_KEYS = 'namespaces, rootfs, mounts, hostname, env, cwd, user, network, capabilities, noNewPrivileges, rlimits, readonlyRootfs, seccomp, cgroup, image';
const KINDS = 'pid, net, ipc, mnt, uts, user, cgroup, time';
const HOSTNAME = 'a host name (letters, digits, "-" and ".", at most 64 characters)';
const ID = 'an integer id from 0 to 4294967294';
const RLIMIT_NAMES = 'cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime';
const RLIMIT_VALUE = "a non-negative integer or 'unlimited'";
const STDIO = "'pipe', 'ignore', 'inherit' or an fd number";
const DURATION = 'a duration (milliseconds as a positive number, or a string like "2s" or "500ms")';
const SIZE = 'a byte count (a non-negative integer, or a string like "64M" or "1.5G")';
const MISSING = '/nonexistent-isolate-kit-path';
const PATH_MAX_TEXT = "an absolute path of at most 4095 bytes (the kernel's PATH_MAX, its NUL counted)";

type C = ConstructorParameters<typeof Container>[0];
const make = (o: unknown) => () => new Container(o as C);

describe('new Container() with invalid options', function () {
  const cases: [string, unknown, Expected][] = [
    // the options object and its keys
    ['options null', null, NOT_AN_OBJECT('`null` (null)')],
    ['options a string', 'pid', NOT_AN_OBJECT('`"pid"` (string)')],
    [
      'misspelled key hostName',
      { hostName: 'x' },
      { message: `Unknown container option \`hostName\` (misspelled?); known: ${CONTAINER_KEYS}`, option: 'hostName' },
    ],
    ['misspelled key mount', { mount: [] }, { message: `Unknown container option \`mount\` (misspelled?); known: ${CONTAINER_KEYS}`, option: 'mount' }],
    ['run-only key timeout', { timeout: 5 }, { message: `Unknown container option \`timeout\` (misspelled?); known: ${CONTAINER_KEYS}`, option: 'timeout' }],
    // unsupported features
    ['user namespace (array)', { namespaces: ['pid', 'mnt', 'user'] }, { code: 'ERR_UNSUPPORTED', message: 'User namespaces (rootless containers) are not supported yet', option: 'namespaces' }],
    ['user namespace (object)', { namespaces: { pid: true, user: true } }, { code: 'ERR_UNSUPPORTED', message: 'User namespaces (rootless containers) are not supported yet', option: 'namespaces' }],
    ['user namespace (Namespace)', { namespaces: new Namespace().with('user') }, { code: 'ERR_UNSUPPORTED', message: 'User namespaces (rootless containers) are not supported yet', option: 'namespaces' }],
    ['cgroup: a bad size', { cgroup: { memory: '64Q' } }, { message: 'Expected the `memory` option to be a byte count (a non-negative integer, or a string like "64M" or "1.5G"), got `"64Q"` (string)', option: 'memory' }],
    ['cgroup: not an object', { cgroup: 64 }, { message: 'Expected the `cgroup` option to be an object of limits (or a CGroup), got `64` (number)', option: 'cgroup' }],
    ["seccomp 'strict'", { seccomp: 'strict' }, msg('seccomp', "'default', 'unconfined' or a seccomp profile (Docker's or the OCI spec's JSON, parsed)", '`"strict"` (string)')],
    ['seccomp profile with a bad action', { seccomp: { defaultAction: 'ALLOW' } }, msg('seccomp.defaultAction', 'one of SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG', '`"ALLOW"` (string)')],
    // namespaces
    ['namespaces a string', { namespaces: 'pid' }, msg('namespaces', 'a Namespace, an array of kinds or an object of booleans', '`"pid"` (string)')],
    ['namespaces null', { namespaces: null }, msg('namespaces', 'a Namespace, an array of kinds or an object of booleans', '`null` (null)')],
    ['namespaces a number', { namespaces: 42 }, msg('namespaces', 'a Namespace, an array of kinds or an object of booleans', '`42` (number)')],
    ['unknown kind in an array', { namespaces: ['pid', 'pidd'] }, msg('namespaces[1]', `one of ${KINDS}`, '`"pidd"` (string)')],
    ['unknown kind in an object', { namespaces: { foo: true } }, msg('namespaces.foo', `a namespace kind (${KINDS})`, '`"foo"` (string)')],
    ['non-boolean kind', { namespaces: { pid: 'yes' } }, msg('namespaces.pid', 'a boolean', '`"yes"` (string)')],
    ['hostname without uts', { namespaces: ['pid', 'mnt', 'net'], hostname: 'box' }, { message: "`hostname` needs the 'uts' namespace, which `namespaces` leaves out", option: 'namespaces' }],
    ['mounts without mnt', { namespaces: ['pid'], mounts: [{ type: 'tmpfs', target: '/tmp/x' }] }, { message: "`rootfs` and `mounts` need the 'mnt' namespace, which `namespaces` leaves out", option: 'namespaces' }],
    // network, rootfs and booleans
    ["network 'bridge'", { network: 'bridge' }, msg('network', "'none' or 'host'", '`"bridge"` (string)')],
    ['network true', { network: true }, msg('network', "'none' or 'host'", '`true` (boolean)')],
    ['rootfs a path', { rootfs: '/' }, msg('rootfs', 'a LayerStack', '`"/"` (string)')],
    ['readonlyRootfs a string', { readonlyRootfs: 'yes' }, msg('readonlyRootfs', 'a boolean', '`"yes"` (string)')],
    ['readonlyRootfs false on the host root', { readonlyRootfs: false }, msg('readonlyRootfs', 'true for the host root, which is always read-only', '`false` (boolean)')],
    ['noNewPrivileges a number', { noNewPrivileges: 1 }, msg('noNewPrivileges', 'a boolean', '`1` (number)')],
    // hostnames
    ['hostname with _', { hostname: 'bad_host' }, msg('hostname', HOSTNAME, '`"bad_host"` (string)')],
    ['hostname starting with -', { hostname: '-box' }, msg('hostname', HOSTNAME, '`"-box"` (string)')],
    ['hostname ending with -', { hostname: 'box-' }, msg('hostname', HOSTNAME, '`"box-"` (string)')],
    ['hostname with an empty label', { hostname: 'a..b' }, msg('hostname', HOSTNAME, '`"a..b"` (string)')],
    ['hostname ending with .', { hostname: 'box.' }, msg('hostname', HOSTNAME, '`"box."` (string)')],
    ['empty hostname', { hostname: '' }, msg('hostname', HOSTNAME, '`""` (string)')],
    ['hostname with a space', { hostname: 'my box' }, msg('hostname', HOSTNAME, '`"my box"` (string)')],
    ['hostname with non-ASCII', { hostname: 'bôx' }, msg('hostname', HOSTNAME, '`"bôx"` (string)')],
    ['hostname of 65 characters', { hostname: 'a'.repeat(65) }, msg('hostname', HOSTNAME, `\`"${'a'.repeat(56)}...\` (string)`)],
    ['hostname a number', { hostname: 42 }, msg('hostname', HOSTNAME, '`42` (number)')],
    // cwd
    ['relative cwd', { cwd: 'tmp' }, msg('cwd', 'an absolute path', '`"tmp"` (string)')],
    ['cwd ./x', { cwd: './x' }, msg('cwd', 'an absolute path', '`"./x"` (string)')],
    ['empty cwd', { cwd: '' }, msg('cwd', 'an absolute path', '`""` (string)')],
    ['cwd with NUL', { cwd: '/a\0b' }, msg('cwd', 'an absolute path', '`"/a\\u0000b"` (string)')],
    ['cwd a number', { cwd: 1 }, msg('cwd', 'an absolute path', '`1` (number)')],
    ['cwd longer than PATH_MAX', { cwd: `/${'a'.repeat(4096)}` }, msg('cwd', PATH_MAX_TEXT, `\`"/${'a'.repeat(55)}...\` (string)`)],
    // Bytes, not UTF-16 units: 2,069 characters, 'é' (2 bytes) in names of 100, are over 4,095 bytes.
    ['cwd longer than PATH_MAX in UTF-8', { cwd: `/${Array(21).fill('é'.repeat(100)).join('/')}`.slice(0, 2069) }, msg('cwd', PATH_MAX_TEXT, `\`"/${'é'.repeat(55)}...\` (string)`)],
    // NAME_MAX: the kernel takes no file name over 255 bytes (ENAMETOOLONG in init, at start).
    ['a cwd name over 255 bytes', { cwd: `/tmp/${'é'.repeat(128)}` }, msg('cwd', 'an absolute path whose names are at most 255 bytes each', `\`"/tmp/${'é'.repeat(51)}...\` (string)`)],
    // user
    ['user null', { user: null }, msg('user', '{ uid, gid?, groups? }', '`null` (null)')],
    ['user a number', { user: 0 }, msg('user', '{ uid, gid?, groups? }', '`0` (number)')],
    ['user without uid', { user: {} }, msg('user.uid', ID, '`undefined` (undefined)')],
    ['negative uid', { user: { uid: -1 } }, msg('user.uid', ID, '`-1` (number)')],
    ['fractional uid', { user: { uid: 1.5 } }, msg('user.uid', ID, '`1.5` (number)')],
    ['uid 2^32', { user: { uid: 2 ** 32 } }, msg('user.uid', ID, '`4294967296` (number)')],
    ['uid -1 as unsigned (4294967295)', { user: { uid: 4294967295 } }, msg('user.uid', ID, '`4294967295` (number)')],
    ['uid a string', { user: { uid: '0' } }, msg('user.uid', ID, '`"0"` (string)')],
    ['negative gid', { user: { uid: 0, gid: -1 } }, msg('user.gid', ID, '`-1` (number)')],
    ['groups not an array', { user: { uid: 0, groups: '5' } }, msg('user.groups', 'an array of group ids', '`"5"` (string)')],
    ['a bad group id', { user: { uid: 0, groups: [1, -2] } }, msg('user.groups[1]', ID, '`-2` (number)')],
    ['misspelled user key', { user: { uid: 0, name: 'root' } }, msg('user.name', 'one of uid, gid, groups (misspelled?)', '`"name"` (string)')],
    // env
    ['env an array', { env: [] }, msg('env', 'an object of strings ({ NAME: "value" })', '`[]` (array)')],
    ['env a string', { env: 'A=1' }, msg('env', 'an object of strings ({ NAME: "value" })', '`"A=1"` (string)')],
    ['env null', { env: null }, msg('env', 'an object of strings ({ NAME: "value" })', '`null` (null)')],
    ["env name with '='", { env: { 'A=B': 'x' } }, msg('env name', 'a name without "=" or NUL', '`"A=B"` (string)')],
    ['empty env name', { env: { '': 'x' } }, msg('env name', 'a name without "=" or NUL', '`""` (string)')],
    ['env name with NUL', { env: { 'A\0': 'x' } }, msg('env name', 'a name without "=" or NUL', '`"A\\u0000"` (string)')],
    ['env value with NUL', { env: { A: 'x\0y' } }, msg('env.A', 'a string without NUL bytes', '`"x\\u0000y"` (string)')],
    ['env value a number', { env: { A: 1 } }, msg('env.A', 'a string without NUL bytes', '`1` (number)')],
    ['env value a boolean', { env: { A: true } }, msg('env.A', 'a string without NUL bytes', '`true` (boolean)')],
    // capabilities
    ['capabilities a string', { capabilities: 'CAP_CHOWN' }, msg('capabilities', 'an array of capability names', '`"CAP_CHOWN"` (string)')],
    ['unknown capability', { capabilities: ['CAP_FOO'] }, msg('capabilities[0]', 'a capability name such as "CAP_NET_BIND_SERVICE"', '`"CAP_FOO"` (string)')],
    ['capability a number', { capabilities: ['chown', 7] }, msg('capabilities[1]', 'a capability name such as "CAP_NET_BIND_SERVICE"', '`7` (number)')],
    ['capability CAP_', { capabilities: ['CAP_'] }, msg('capabilities[0]', 'a capability name such as "CAP_NET_BIND_SERVICE"', '`"CAP_"` (string)')],
    ['capability ALL', { capabilities: ['ALL'] }, msg('capabilities[0]', 'a capability name such as "CAP_NET_BIND_SERVICE"', '`"ALL"` (string)')],
    // rlimits
    ['rlimits a number', { rlimits: 5 }, msg('rlimits', 'an object such as { nofile: 1024, core: 0 }', '`5` (number)')],
    ['rlimits an array', { rlimits: [] }, msg('rlimits', 'an object such as { nofile: 1024, core: 0 }', '`[]` (array)')],
    ['unknown rlimit', { rlimits: { files: 10 } }, msg('rlimits.files', `a limit name (${RLIMIT_NAMES})`, '`"files"` (string)')],
    ['negative rlimit', { rlimits: { nofile: -1 } }, msg('rlimits.nofile', RLIMIT_VALUE, '`-1` (number)')],
    ['fractional rlimit', { rlimits: { nofile: 1.5 } }, msg('rlimits.nofile', RLIMIT_VALUE, '`1.5` (number)')],
    ['rlimit a word', { rlimits: { nofile: 'lots' } }, msg('rlimits.nofile', RLIMIT_VALUE, '`"lots"` (string)')],
    ['rlimit null', { rlimits: { cpu: null } }, msg('rlimits.cpu', RLIMIT_VALUE, '`null` (null)')],
    ['rlimit soft > hard', { rlimits: { nofile: [10, 5] } }, msg('rlimits.nofile', 'a soft limit not above the hard limit', '`[10,5]` (array)')],
    ['rlimit unlimited soft > hard', { rlimits: { stack: { soft: 'unlimited', hard: 5 } } }, msg('rlimits.stack', 'a soft limit not above the hard limit', '`{"soft":"unlimited","hard":5}` (object)')],
    ['rlimit soft > hard (Infinity)', { rlimits: { cpu: [Infinity, 10] } }, msg('rlimits.cpu', 'a soft limit not above the hard limit', '`[Infinity,10]` (array)')],
    ['rlimit of three numbers', { rlimits: { nofile: [1, 2, 3] } }, msg('rlimits.nofile', RLIMIT_VALUE, '`[1,2,3]` (array)')],
    ['bad soft rlimit', { rlimits: { nofile: [-1, 5] } }, msg('rlimits.nofile[0]', RLIMIT_VALUE, '`-1` (number)')],
    ['missing hard rlimit', { rlimits: { nofile: { soft: 1 } } }, msg('rlimits.nofile.hard', RLIMIT_VALUE, '`undefined` (undefined)')],
    // mounts
    ['mounts a string', { mounts: '/data' }, msg('mounts', 'an array of mounts', '`"/data"` (string)')],
    ['more mounts than a plan holds', { mounts: Array.from({ length: 3585 }, (_, i) => ({ type: 'tmpfs', target: `/tmp/m${i}` })) }, {
      message: '3585 mounts are too many: a container takes at most 3584 (one step each of its plan, which has at most 4096)',
      option: 'mounts',
    }],
    ['a null mount', { mounts: [null] }, msg('mounts[0]', "a mount ({ type: 'bind' | 'tmpfs', … })", '`null` (null)')],
    ['an unknown mount type', { mounts: [{ type: 'nfs', target: '/mnt' }] }, msg('mounts[0].type', "'bind' or 'tmpfs'", '`"nfs"` (string)')],
    ['a mount without type', { mounts: [{ target: '/mnt' }] }, msg('mounts[0].type', "'bind' or 'tmpfs'", '`undefined` (undefined)')],
    ['a relative target', { mounts: [{ type: 'tmpfs', target: 'data' }] }, msg('mounts[0].target', 'an absolute path', '`"data"` (string)')],
    ['a target longer than PATH_MAX', { mounts: [{ type: 'tmpfs', target: `/tmp/${'t'.repeat(4091)}` }] }, msg('mounts[0].target', PATH_MAX_TEXT, `\`"/tmp/${'t'.repeat(51)}...\` (string)`)],
    ['a missing target', { mounts: [{ type: 'bind', source: '/etc' }] }, msg('mounts[0].target', 'an absolute path', '`undefined` (undefined)')],
    ["target '/'", { mounts: [{ type: 'bind', source: '/etc', target: '/' }] }, msg('mounts[0].target', 'an absolute path other than /', '`"/"` (string)')],
    ["target '//'", { mounts: [{ type: 'tmpfs', target: '//' }] }, msg('mounts[0].target', 'an absolute path other than /', '`"//"` (string)')],
    ["target '/tmp/..'", { mounts: [{ type: 'tmpfs', target: '/tmp/..' }] }, msg('mounts[0].target', 'an absolute path other than /', '`"/tmp/.."` (string)')],
    ["target '/proc/'", { mounts: [{ type: 'tmpfs', target: '/proc/' }] }, msg('mounts[0].target', "a path other than /proc (the container's procfs; a file below it, e.g. /proc/cpuinfo, may be covered)", '`"/proc/"` (string)')],
    ['a bind without source', { mounts: [{ type: 'bind', target: '/tmp/x' }] }, msg('mounts[0].source', 'a host path', '`undefined` (undefined)')],
    ['an empty source', { mounts: [{ type: 'bind', source: '', target: '/tmp/x' }] }, msg('mounts[0].source', 'a host path', '`""` (string)')],
    ['a source with NUL', { mounts: [{ type: 'bind', source: '/etc\0', target: '/tmp/x' }] }, msg('mounts[0].source', 'a host path', '`"/etc\\u0000"` (string)')],
    [
      'a source that does not exist',
      { mounts: [{ type: 'tmpfs', target: '/tmp/a' }, { type: 'bind', source: MISSING, target: '/tmp/x' }] },
      { message: `Bind source ${MISSING} (mounts[1].source) does not exist on the host`, option: 'mounts[1].source' },
    ],
    ['a misspelled bind key', { mounts: [{ type: 'bind', source: '/etc', target: '/tmp/x', ro: true }] }, msg('mounts[0].ro', 'one of type, source, target, readonly, recursive (misspelled?)', '`"ro"` (string)')],
    ['a source on a tmpfs', { mounts: [{ type: 'tmpfs', source: '/etc', target: '/tmp/x' }] }, msg('mounts[0].source', 'one of type, target, size, mode, inodes (misspelled?)', '`"source"` (string)')],
    ['readonly a string', { mounts: [{ type: 'bind', source: '/etc', target: '/tmp/x', readonly: 'yes' }] }, msg('mounts[0].readonly', 'a boolean', '`"yes"` (string)')],
    ['recursive a number', { mounts: [{ type: 'bind', source: '/etc', target: '/tmp/x', recursive: 1 }] }, msg('mounts[0].recursive', 'a boolean', '`1` (number)')],
    ['tmpfs size 0', { mounts: [{ type: 'tmpfs', target: '/tmp/x', size: 0 }] }, msg('mounts[0].size', 'a size above 0', '`0` (number)')],
    ["tmpfs size '0M'", { mounts: [{ type: 'tmpfs', target: '/tmp/x', size: '0M' }] }, msg('mounts[0].size', 'a size above 0', '`"0M"` (string)')],
    ["tmpfs size 'big'", { mounts: [{ type: 'tmpfs', target: '/tmp/x', size: 'big' }] }, msg('mounts[0].size', SIZE, '`"big"` (string)')],
    ['negative tmpfs size', { mounts: [{ type: 'tmpfs', target: '/tmp/x', size: -1 }] }, msg('mounts[0].size', SIZE, '`-1` (number)')],
    ['tmpfs mode 0o10000', { mounts: [{ type: 'tmpfs', target: '/tmp/x', mode: 0o10000 }] }, msg('mounts[0].mode', 'a file mode (an integer from 0 to 0o7777)', '`4096` (number)')],
    ['negative tmpfs mode', { mounts: [{ type: 'tmpfs', target: '/tmp/x', mode: -1 }] }, msg('mounts[0].mode', 'a file mode (an integer from 0 to 0o7777)', '`-1` (number)')],
    ['tmpfs mode a string', { mounts: [{ type: 'tmpfs', target: '/tmp/x', mode: '755' }] }, msg('mounts[0].mode', 'a file mode (an integer from 0 to 0o7777)', '`"755"` (string)')],
    ...[0, -1, 1.5, 2 ** 31, '100'].map((inodes) => [
      `tmpfs inodes ${JSON.stringify(inodes)}`,
      { mounts: [{ type: 'tmpfs', target: '/tmp/x', inodes }] },
      msg('mounts[0].inodes', 'a count of files and directories (an integer from 1 to 2147483647)', `\`${JSON.stringify(inodes)}\` (${typeof inodes})`),
    ] as [string, unknown, Expected]),
    ['fractional tmpfs mode', { mounts: [{ type: 'tmpfs', target: '/tmp/x', mode: 1.5 }] }, msg('mounts[0].mode', 'a file mode (an integer from 0 to 0o7777)', '`1.5` (number)')],
    [
      'a target name over 255 bytes',
      { mounts: [{ type: 'tmpfs', target: `/tmp/${'x'.repeat(256)}` }] },
      msg('mounts[0].target', 'an absolute path whose names are at most 255 bytes each', `\`"/tmp/${'x'.repeat(51)}...\` (string)`),
    ],
    // The kernel binds a directory only on a directory (EINVAL at start, after the namespaces were made).
    [
      'a directory bound on a file of the host root',
      { mounts: [{ type: 'bind', source: '/etc', target: '/etc/passwd' }] },
      {
        message: "Bind source /etc (mounts[0].source) is a directory, but its target /etc/passwd is not a directory in the container's read-only root; bind a directory on a directory and a file on a file, or give a target under /tmp",
        option: 'mounts[0].target',
      },
    ],
    [
      'a file bound on a directory of the host root',
      { mounts: [{ type: 'bind', source: '/etc/passwd', target: '/etc' }] },
      {
        message: "Bind source /etc/passwd (mounts[0].source) is not a directory, but its target /etc is a directory in the container's read-only root; bind a directory on a directory and a file on a file, or give a target under /tmp",
        option: 'mounts[0].target',
      },
    ],
    [
      'a tmpfs on a file of the host root',
      { mounts: [{ type: 'tmpfs', target: '/etc/passwd' }] },
      { message: "Mount target /etc/passwd (mounts[0].target) is not a directory in the container's read-only root; a tmpfs needs one", option: 'mounts[0].target' },
    ],
    [
      'a target missing from the read-only host root',
      { mounts: [{ type: 'tmpfs', target: MISSING }] },
      {
        message: `Mount target ${MISSING} does not exist in the container's read-only root; use an existing path or one under /tmp`,
        option: 'mounts[0].target',
      },
    ],
    [
      'a missing target below an existing host directory',
      { mounts: [{ type: 'bind', source: '/etc', target: `/etc${MISSING}` }] },
      {
        message: `Mount target /etc${MISSING} does not exist in the container's read-only root; use an existing path or one under /tmp`,
        option: 'mounts[0].target',
      },
    ],
  ];

  for (const [title, options, expected] of cases) {
    it(`should reject ${title}`, function () {
      const err = throwsSync(make(options), expected);
      expect(err.stack).to.be.a('string');
    });
  }

  it('should name the mount by the index the caller gave, also after sorting by depth', function () {
    // resolveMounts() sorts mounts parents-first before checking targets;
    // the error must still point at the caller's mounts[1], not the sorted index.
    throwsSync(make({ mounts: [{ type: 'tmpfs', target: '/tmp/a/b/c' }, { type: 'tmpfs', target: MISSING }] }), {
      message: `Mount target ${MISSING} does not exist in the container's read-only root; use an existing path or one under /tmp`,
      option: 'mounts[1].target',
    });
  });

  it('should refuse a bind source that is a symlink to nothing (init binds what it leads to)', function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      symlinkSync(MISSING, join(dir, 'dangling'));
      const err = throwsSync(make({ mounts: [{ type: 'bind', source: join(dir, 'dangling'), target: '/tmp/x' }] }), {
        message: `Bind source ${join(dir, 'dangling')} (mounts[0].source) is a symlink to nothing on the host (ENOENT)`,
        option: 'mounts[0].source',
      });
      expect(err.path).to.equal(join(dir, 'dangling'));
      // One that leads somewhere is bound as what it leads to: a file's target is made a file.
      symlinkSync('/etc/passwd', join(dir, 'file'));
      expect(() => new Container({ mounts: [{ type: 'bind', source: join(dir, 'file'), target: '/etc/hostname' }] })).to.not.throw();
      throwsSync(make({ mounts: [{ type: 'bind', source: join(dir, 'file'), target: '/etc' }] }), {
        message: `Bind source ${join(dir, 'file')} (mounts[0].source) is not a directory, but its target /etc is a directory in the container's read-only root; bind a directory on a directory and a file on a file, or give a target under /tmp`,
        option: 'mounts[0].target',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should make no mount point in a bind: one there must exist in its source, of the right kind', function () {
    const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      mkdirSync(join(dir, 'sub'));
      const bind = { type: 'bind' as const, source: dir, target: '/tmp/b' };
      // init would have made /tmp/b/new in the host's directory (read-only: EROFS at start).
      for (const readonly of [false, true]) {
        throwsSync(make({ mounts: [{ type: 'tmpfs', target: '/tmp/b/new' }, { ...bind, readonly }] }), {
          message: `Mount target /tmp/b/new does not exist in the bind of ${dir} (mounts[1]); isolate-kit makes mount points only in a tmpfs, never in a host directory: make it there first, or use a path under /tmp`,
          option: 'mounts[0].target',
        });
      }
      expect(readdirSync(dir)).to.deep.equal(['sub']);
      expect(() => new Container({ mounts: [bind, { type: 'tmpfs', target: '/tmp/b/sub' }] })).to.not.throw();
      throwsSync(make({ mounts: [bind, { type: 'bind', source: '/etc/passwd', target: '/tmp/b/sub' }] }), {
        message: `Bind source /etc/passwd (mounts[1].source) is not a directory, but its target /tmp/b/sub is a directory in the bind of ${dir} (mounts[0]); bind a directory on a directory and a file on a file, or give a target under /tmp`,
        option: 'mounts[1].target',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("should count a tmpfs's mount points against its inodes", function () {
    throwsSync(make({ mounts: [{ type: 'tmpfs', target: '/tmp/a/b/c' }, { type: 'tmpfs', target: '/tmp/a', inodes: 2 }] }), {
      message: 'mounts[1] (tmpfs on /tmp/a) has 2 inodes, but its root and the mount points made in it for other mounts (/tmp/a/b, /tmp/a/b/c) take 3; give `inodes` of at least 3',
      option: 'mounts[1].inodes',
    });
    expect(() => new Container({ mounts: [{ type: 'tmpfs', target: '/tmp/a/b/c' }, { type: 'tmpfs', target: '/tmp/a', inodes: 3 }] })).to.not.throw();
  });

  it("should refuse a nofile limit above the kernel's fs.nr_open, which no capability lifts (EPERM in init)", function () {
    const most = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim());
    for (const nofile of [most + 1, 'unlimited', [1024, most + 1]] as const) {
      throwsSync(make({ rlimits: { nofile } }), {
        message: `Expected the \`rlimits.nofile\` option to be a limit of at most ${most} (the kernel's fs.nr_open, the most open files it lets a process have), got \`${JSON.stringify(nofile)}\` (${Array.isArray(nofile) ? 'array' : typeof nofile})`,
        option: 'rlimits.nofile',
      });
    }
  });

  it('should treat an undefined rlimit like an absent one (the default stays)', function () {
    // Every other option treats `undefined` as "not given"; rlimits rejects it.
    expect(() => new Container({ rlimits: { nofile: undefined } })).to.not.throw();
  });

  it('should say which path a missing bind source or target is about', function () {
    const src = throwsSync(make({ mounts: [{ type: 'bind', source: MISSING, target: '/tmp/x' }] }), {
      message: `Bind source ${MISSING} (mounts[0].source) does not exist on the host`,
      option: 'mounts[0].source',
    });
    expect(src.path).to.equal(MISSING);
    expect((src.cause as NodeJS.ErrnoException).code).to.equal('ENOENT');
    const dst = throwsSync(make({ mounts: [{ type: 'tmpfs', target: MISSING }] }), {
      message: `Mount target ${MISSING} does not exist in the container's read-only root; use an existing path or one under /tmp`,
    });
    expect(dst.path).to.equal(MISSING);
  });

  it('should accept valid edge cases', function () {
    const ok: C[] = [
      {},
      { hostname: 'a'.repeat(64) },
      { hostname: 'judge-7.example.org' },
      { hostname: '7' },
      { user: { uid: 0 } },
      { user: { uid: 4294967294, gid: 0, groups: [] } },
      { env: { A: '', B: null, C: undefined, 'weird name!': 'x' } },
      { cwd: '/tmp/../etc/' },
      { capabilities: ['chown', 'CAP_KILL', 'Net_Raw', 'cap_checkpoint_restore'] },
      { rlimits: { nofile: 64, cpu: Infinity, stack: { soft: 10, hard: 'unlimited' }, core: [0, 0] } },
      { mounts: [{ type: 'tmpfs', target: '/tmp/new/deep/dir', size: '1k', mode: 0 }] },
      { mounts: [{ type: 'tmpfs', target: '/mnt' }, { type: 'bind', source: '/etc', target: '/mnt/not/on/the/host', readonly: true }] },
      { mounts: [{ type: 'bind', source: '.', target: '/tmp/cwd', recursive: false }] },
      { seccomp: 'unconfined', noNewPrivileges: false, readonlyRootfs: true, network: 'host' },
      { namespaces: [], network: 'host' },
      { namespaces: new Namespace(['pid', 'mnt']) },
    ];
    for (const o of ok) {
      const c = new Container(o);
      expect(c.state, JSON.stringify(o)).to.equal('created');
      expect(c.pid).to.equal(undefined);
    }
  });

  it('should derive the namespaces from `network`', function () {
    expect(new Container().namespaces.kinds).to.deep.equal(['pid', 'net', 'ipc', 'mnt', 'uts', 'cgroup']);
    expect(new Container({ network: 'host' }).namespaces.kinds).to.deep.equal(['pid', 'ipc', 'mnt', 'uts', 'cgroup']);
    expect(new Container({ namespaces: ['pid', 'mnt'], network: 'none' }).namespaces.kinds).to.deep.equal(['pid', 'net', 'mnt']);
    expect(new Container({ namespaces: ['pid', 'mnt'] }).namespaces.kinds).to.deep.equal(['pid', 'mnt']);
  });
});

/** `n` variables of `size` bytes each. */
function bigEnv(n: number, size: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'v'.repeat(size)]));
}

describe('Container#spawn() with invalid input', function () {
  const cmd = ['true'];
  const cases: [string, (c: Container) => unknown, Expected][] = [
    ['options null', (c) => c.spawn(cmd, null as never), NOT_AN_OBJECT('`null` (null)')],
    ['a misspelled key', (c) => c.spawn(cmd, { cwdd: '/' } as never), { message: 'Unknown spawn option `cwdd` (misspelled?); known: env, cwd, user, stdio', option: 'cwdd' }],
    ['a run-only key', (c) => c.spawn(cmd, { timeout: 5 } as never), { message: 'Unknown spawn option `timeout` (misspelled?); known: env, cwd, user, stdio', option: 'timeout' }],
    ['an empty command', (c) => c.spawn([]), msg('command', 'a non-empty array of strings', '`[]` (array)')],
    ['a command string', (c) => c.spawn('ls' as never), msg('command', 'a non-empty array of strings', '`"ls"` (string)')],
    ['an undefined command', (c) => c.spawn(undefined as never), msg('command', 'a non-empty array of strings', '`undefined` (undefined)')],
    ['a number argument', (c) => c.spawn(['ls', 1] as never), msg('command[1]', 'a string without NUL bytes', '`1` (number)')],
    ['a null argument', (c) => c.spawn([null] as never), msg('command[0]', 'a string without NUL bytes', '`null` (null)')],
    ['an argument with NUL', (c) => c.spawn(['echo', 'a\0b']), msg('command[1]', 'a string without NUL bytes', '`"a\\u0000b"` (string)')],
    ['an empty program', (c) => c.spawn(['', 'x']), msg('command[0]', 'a program name or path', '`""` (string)')],
    ['a relative cwd', (c) => c.spawn(cmd, { cwd: 'tmp' }), msg('cwd', 'an absolute path', '`"tmp"` (string)')],
    ["an env name with '='", (c) => c.spawn(cmd, { env: { 'A=B': '1' } }), msg('env name', 'a name without "=" or NUL', '`"A=B"` (string)')],
    ['an env value with NUL', (c) => c.spawn(cmd, { env: { A: '\0' } }), msg('env.A', 'a string without NUL bytes', '`"\\u0000"` (string)')],
    ['a negative uid', (c) => c.spawn(cmd, { user: { uid: -1 } }), msg('user.uid', ID, '`-1` (number)')],
    ['a bad group', (c) => c.spawn(cmd, { user: { uid: 1, groups: [0.5] } }), msg('user.groups[0]', ID, '`0.5` (number)')],
    ["stdio 'foo'", (c) => c.spawn(cmd, { stdio: 'foo' as never }), msg('stdio[0]', STDIO, '`"foo"` (string)')],
    ['stdio of two', (c) => c.spawn(cmd, { stdio: ['pipe', 'pipe'] as never }), msg('stdio', 'a stdio value or an array of three', '`["pipe","pipe"]` (array)')],
    ['stdio of four', (c) => c.spawn(cmd, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] as never }), msg('stdio', 'a stdio value or an array of three', '`["pipe","pipe","pipe","pipe"]` (array)')],
    ['a negative stdio fd', (c) => c.spawn(cmd, { stdio: ['pipe', 'pipe', -1] }), msg('stdio[2]', STDIO, '`-1` (number)')],
    ['a fractional stdio fd', (c) => c.spawn(cmd, { stdio: ['pipe', 1.5, 'pipe'] }), msg('stdio[1]', STDIO, '`1.5` (number)')],
    ['stdio null', (c) => c.spawn(cmd, { stdio: null as never }), msg('stdio[0]', STDIO, '`null` (null)')],
    ["stdio 'overlapped'", (c) => c.spawn(cmd, { stdio: ['pipe', 'overlapped', 'pipe'] as never }), msg('stdio[1]', STDIO, '`"overlapped"` (string)')],
    // What exec and the plan can carry (lib/exec-size.ts); the kernel's side of it: test/integration/options-kernel.test.ts.
    ['an environment string longer than MAX_ARG_STRLEN', (c) => c.spawn(cmd, { env: { BIG: 'é'.repeat(STRLEN_MAX / 2) } }), {
      message: msg('env.BIG', `at most ${STRLEN_MAX - 1} bytes`, `\`"${'é'.repeat(56)}...\` (string)`).message +
        `: it has ${STRLEN_MAX + 4}, and the kernel takes no longer argument or environment string (MAX_ARG_STRLEN, 32 pages): pass it in a file or on stdin (input)`,
      option: 'env.BIG',
    }],
    ['an argument longer than MAX_ARG_STRLEN', (c) => c.spawn(['echo', 'ok', 'x'.repeat(STRLEN_MAX)]), {
      message: msg('command[2]', `at most ${STRLEN_MAX - 1} bytes`, `\`"${'x'.repeat(56)}...\` (string)`).message +
        `: it has ${STRLEN_MAX}, and the kernel takes no longer argument or environment string (MAX_ARG_STRLEN, 32 pages): pass it in a file or on stdin (input)`,
      option: 'command[2]',
    }],
  ];

  for (const [title, fn, expected] of cases) {
    it(`should throw synchronously for ${title} and start nothing`, function () {
      const c = new Container();
      throwsSync(() => fn(c), expected);
      expect(c.state).to.equal('created');
      expect(c.pid).to.equal(undefined);
    });
  }

  it('should throw synchronously for a command and environment over what exec takes under the stack limit, and start nothing', function () {
    const c = new Container({ rlimits: { stack: 1024 * 1024 } });
    // 10 + (66 + 10 + 3 * 100,004) bytes of strings, the path again (10), 6 pointers: 300,156 > 1 MiB / 4.
    throwsSync(() => c.spawn(['/bin/echo'], { env: bigEnv(3, 100_000) }), {
      message:
        "The command (10 bytes) and its environment (300088 bytes) come to 300156 bytes with the program's path and a pointer to each string; exec takes at most 262144: a quarter of the stack limit (1048576; rlimits.stack sets it), at most 6291456, at least 131072. Raise rlimits.stack, or pass large data in a file or on stdin (input)",
      option: 'env',
    });
    // A larger argument list is blamed on the command.
    throwsSync(() => c.spawn(['/bin/echo', ...Object.values(bigEnv(3, 100_000))]), { message: /^The command \(300013 bytes\)/, option: 'command' });
    expect(c.state).to.equal('created');
    expect(c.pid).to.equal(undefined);
  });

  it('should throw ERR_STATE for exec() on a container that is not running', function () {
    throwsSync(() => new Container().exec(['true']), { code: 'ERR_STATE', message: 'Cannot exec in a container that is created' });
  });

  it('should throw TypeError for unknown signals before looking at the state', function () {
    const c = new Container();
    expect(() => c.kill('SIGFOO' as never)).to.throw(IsolateError, 'Unknown signal: SIGFOO');
    expect(() => c.kill(99)).to.throw(IsolateError, 'Unknown signal: 99');
    expect(() => c.kill(-1)).to.throw(IsolateError, 'Unknown signal: -1');
    expect(c.kill('SIGTERM')).to.equal(false);
    expect(c.kill('term' as never)).to.equal(false);
  });

  it('should reject stop() with a bad timeout', async function () {
    const c = new Container();
    await rejects(() => c.stop({ timeout: -1 }), msg('timeout', 'a non-negative number of milliseconds', '`-1` (number)'));
    await rejects(() => c.stop({ timeout: '1s' as never }), msg('timeout', 'a non-negative number of milliseconds', '`"1s"` (string)'));
    // A Node timer runs a longer delay after 1 ms: it would SIGKILL at once.
    await rejects(() => c.stop({ timeout: 2 ** 31 }), msg('timeout', "a duration of at most 2147483647 ms (about 24.8 days: Node's timers go no further)", '`2147483648` (number)'));
  });
});

describe('Container#run() and Container.run() with invalid input', function () {
  const RUN_KEYS = 'env, cwd, user, timeout, cpuTime, maxOutput, input, encoding, signal';
  const cases: [string, Record<string, unknown> | null, Expected][] = [
    ['options null', null, NOT_AN_OBJECT('`null` (null)')],
    ['a misspelled key', { timout: 5 }, { message: `Unknown run option \`timout\` (misspelled?); known: ${RUN_KEYS}`, option: 'timout' }],
    ['stdio', { stdio: 'pipe' }, { message: `Unknown run option \`stdio\` (misspelled?); known: ${RUN_KEYS}`, option: 'stdio' }],
    ['timeout 0', { timeout: 0 }, msg('timeout', DURATION, '`0` (number)')],
    ['a negative timeout', { timeout: -5 }, msg('timeout', DURATION, '`-5` (number)')],
    ["timeout 'abc'", { timeout: 'abc' }, msg('timeout', DURATION, '`"abc"` (string)')],
    ["timeout '0s'", { timeout: '0s' }, msg('timeout', DURATION, '`"0s"` (string)')],
    ['timeout null', { timeout: null }, msg('timeout', DURATION, '`null` (null)')],
    ['a timeout past 2^31-1 ms', { timeout: '1000h' }, msg('timeout', "a duration of at most 2147483647 ms (about 24.8 days: Node's timers go no further)", '`"1000h"` (string)')],
    ['a negative maxOutput', { maxOutput: -1 }, msg('maxOutput', SIZE, '`-1` (number)')],
    ["maxOutput 'lots'", { maxOutput: 'lots' }, msg('maxOutput', SIZE, '`"lots"` (string)')],
    ['a fractional maxOutput', { maxOutput: 1.5 }, msg('maxOutput', SIZE, '`1.5` (number)')],
    ['an unknown encoding', { encoding: 'latin2' }, msg('encoding', "a Buffer encoding or 'buffer'", '`"latin2"` (string)')],
    ["encoding 'BUFFER'", { encoding: 'BUFFER' }, msg('encoding', "a Buffer encoding or 'buffer'", '`"BUFFER"` (string)')],
    ['a numeric encoding', { encoding: 8 }, msg('encoding', "a Buffer encoding or 'buffer'", '`8` (number)')],
    ['a signal that is not an AbortSignal', { signal: {} }, msg('signal', 'an AbortSignal', '`{}` (object)')],
    ['an AbortController as signal', { signal: new AbortController() }, msg('signal', 'an AbortSignal', '`{}` (object)')],
    ['a string signal', { signal: 'SIGTERM' }, msg('signal', 'an AbortSignal', '`"SIGTERM"` (string)')],
    ['a numeric input', { input: 42 }, msg('input', 'a string, Buffer or Uint8Array', '`42` (number)')],
    ['an array input', { input: [1, 2] }, msg('input', 'a string, Buffer or Uint8Array', '`[1,2]` (array)')],
    ['a relative cwd', { cwd: 'x' }, msg('cwd', 'an absolute path', '`"x"` (string)')],
    ['a bad uid', { user: { uid: 'root' } }, msg('user.uid', ID, '`"root"` (string)')],
  ];

  for (const [title, options, expected] of cases) {
    it(`container.run() should reject ${title}, starting nothing`, async function () {
      const c = new Container();
      await rejects(() => c.run(['true'], options as never), expected);
      expect(c.state).to.equal('created');
    });
  }

  it('container.run() should reject invalid commands', async function () {
    const c = new Container();
    await rejects(() => c.run([] as never), msg('command', 'a non-empty array of strings', '`[]` (array)'));
    await rejects(() => c.run(['a\0']), msg('command[0]', 'a string without NUL bytes', '`"a\\u0000"` (string)'));
    expect(c.state).to.equal('created');
  });

  it('Container.run() should reject bad run limits, bad container options and bad commands', async function () {
    await rejects(() => Container.run(['true'], null as never), NOT_AN_OBJECT('`null` (null)'));
    await rejects(() => Container.run(['true'], { timeout: 0 }), msg('timeout', DURATION, '`0` (number)'));
    await rejects(() => Container.run(['true'], { maxOutput: 'x' }), msg('maxOutput', SIZE, '`"x"` (string)'));
    await rejects(() => Container.run(['true'], { hostname: '_' }), msg('hostname', HOSTNAME, '`"_"` (string)'));
    await rejects(() => Container.run([], {}), msg('command', 'a non-empty array of strings', '`[]` (array)'));
    await rejects(() => Container.run(['true'], { seccomp: 'strict' as never }), msg('seccomp', "'default', 'unconfined' or a seccomp profile (Docker's or the OCI spec's JSON, parsed)", '`"strict"` (string)'));
    // A misspelled key is unknown to both lists; both are listed.
    await rejects(() => Container.run(['true'], { timout: 5 } as never), {
      message: `Unknown Container.run option \`timout\` (misspelled?); known: ${CONTAINER_KEYS}, timeout, cpuTime, maxOutput, input, encoding, signal`,
      option: 'timout',
    });
  });

  it('should accept valid edge cases of the run limits without starting anything', async function () {
    // An already-aborted signal makes run() reject after validation, before spawning.
    const aborted = AbortSignal.abort();
    for (const o of [
      { timeout: 1 },
      { timeout: '2s' },
      { maxOutput: 0 },
      { maxOutput: Infinity },
      { maxOutput: '1.5G' },
      { encoding: 'UTF8' },
      { encoding: 'buffer' },
      { encoding: 'base64' },
      { input: '' },
      { input: new Uint8Array(3) },
      { input: Buffer.alloc(0) },
    ]) {
      const c = new Container();
      await rejects(() => c.run(['true'], { ...o, signal: aborted } as never), { code: 'ERR_ABORTED', message: 'Run of `true` was aborted before it started' });
      expect(c.state, JSON.stringify(o)).to.equal('created');
    }
  });
});

describe('Invalid input', function () {
  it('should create nothing: no child process, no fd', async function () {
    const fdsBefore = [...containerishFds().entries()].sort();
    const kidsBefore = childProcesses().sort();
    for (let i = 0; i < 20; i++) {
      expect(() => new Container({ hostname: 'bad_name' })).to.throw(IsolateError);
      expect(() => new Container({ mounts: [{ type: 'bind', source: MISSING, target: '/tmp/x' }] })).to.throw(IsolateError);
      expect(() => new Container({ namespaces: ['user'] })).to.throw(IsolateError);
      const c = new Container();
      expect(() => c.spawn(['true'], { stdio: 'nope' as never })).to.throw(IsolateError);
      expect(() => c.spawn(['true'], { cwd: 'rel' })).to.throw(IsolateError);
      await c.run(['true'], { timeout: -1 }).then(
        () => expect.fail('resolved'),
        (e) => expect(e).to.be.instanceOf(IsolateError),
      );
      await Container.run(['true'], { rlimits: { nofile: [2, 1] } }).then(
        () => expect.fail('resolved'),
        (e) => expect(e).to.be.instanceOf(IsolateError),
      );
      expect(c.state).to.equal('created');
      await c.destroy();
      expect(c.state).to.equal('destroyed');
    }
    expect([...containerishFds().entries()].sort()).to.deep.equal(fdsBefore);
    expect(childProcesses().sort()).to.deep.equal(kidsBefore);
  });
});

describe('Namespace', function () {
  it('should default to pid, net, ipc, mnt, uts and cgroup, in NAMESPACE_KINDS order', function () {
    expect(new Namespace().kinds).to.deep.equal(['pid', 'net', 'ipc', 'mnt', 'uts', 'cgroup']);
    expect([...DEFAULT_KINDS].sort()).to.deep.equal(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'uts']);
    expect(NAMESPACE_KINDS).to.deep.equal(['pid', 'net', 'ipc', 'mnt', 'uts', 'user', 'cgroup', 'time']);
  });

  it('should take an array in any order, without duplicates', function () {
    expect(new Namespace(['uts', 'pid', 'pid', 'time']).kinds).to.deep.equal(['pid', 'uts', 'time']);
    expect(new Namespace([]).kinds).to.deep.equal([]);
  });

  it('should take an object of booleans', function () {
    expect(new Namespace({ mnt: true, pid: true, net: false, uts: undefined }).kinds).to.deep.equal(['pid', 'mnt']);
    expect(new Namespace({}).kinds).to.deep.equal([]);
  });

  it('should answer has()', function () {
    const ns = new Namespace(['pid', 'mnt']);
    expect(ns.has('pid')).to.equal(true);
    expect(ns.has('net')).to.equal(false);
  });

  it('should return new objects from with() and without(), leaving the original unchanged', function () {
    const ns = new Namespace(['pid', 'mnt']);
    const more = ns.with('net', 'uts', 'pid');
    const less = more.without('pid', 'time');
    expect(more).to.not.equal(ns);
    expect(more.kinds).to.deep.equal(['pid', 'net', 'mnt', 'uts']);
    expect(less.kinds).to.deep.equal(['net', 'mnt', 'uts']);
    expect(ns.kinds).to.deep.equal(['pid', 'mnt']);
    expect(ns.with().kinds).to.deep.equal(['pid', 'mnt']);
  });

  it('should be immutable', function () {
    const ns = new Namespace(['pid']);
    expect(Object.isFrozen(ns)).to.equal(true);
    expect(Object.isFrozen(ns.kinds)).to.equal(true);
    expect(() => {
      (ns as { kinds: unknown }).kinds = ['net'];
    }).to.throw(TypeError);
    expect(() => (ns.kinds as NamespaceKind[]).push('net')).to.throw(TypeError);
    expect(() => {
      (ns as unknown as Record<string, unknown>).extra = 1;
    }).to.throw(TypeError);
    expect(ns.kinds).to.deep.equal(['pid']);
  });

  it('should keep and freeze id maps across with() and without()', function () {
    const uidMap = [{ inside: 0, outside: 1000, count: 1 }];
    const ns = new Namespace(['user', 'pid'], { uidMap, gidMap: [{ inside: 0, outside: 100, count: 10 }] });
    uidMap[0]!.outside = 0; // the caller's array is copied
    expect(ns.uidMap).to.deep.equal([{ inside: 0, outside: 1000, count: 1 }]);
    expect(Object.isFrozen(ns.uidMap)).to.equal(true);
    expect(ns.with('mnt').uidMap).to.deep.equal(ns.uidMap);
    expect(ns.without('pid').gidMap).to.deep.equal([{ inside: 0, outside: 100, count: 10 }]);
  });

  it('should reject unknown kinds and bad maps with ERR_INVALID_OPTION', function () {
    throwsSync(() => new Namespace(['pid', 'bogus' as NamespaceKind]), msg('namespaces[1]', `one of ${KINDS}`, '`"bogus"` (string)'));
    throwsSync(() => new Namespace({ bogus: true } as never), msg('namespaces.bogus', `a namespace kind (${KINDS})`, '`"bogus"` (string)'));
    throwsSync(() => new Namespace({ pid: 1 } as never), msg('namespaces.pid', 'a boolean', '`1` (number)'));
    throwsSync(() => new Namespace('pid' as never), msg('namespaces', 'an array of namespace kinds or an object of booleans', '`"pid"` (string)'));
    throwsSync(() => new Namespace(null as never), msg('namespaces', 'an array of namespace kinds or an object of booleans', '`null` (null)'));
    throwsSync(() => new Namespace(['pid']).with('bogus' as NamespaceKind), msg('namespaces[1]', `one of ${KINDS}`, '`"bogus"` (string)'));
    throwsSync(() => new Namespace(['pid']).without('net', 'bogus' as NamespaceKind), msg('without(…)[1]', `one of ${KINDS}`, '`"bogus"` (string)'));
    throwsSync(() => new Namespace(['user'], { uidMap: [] }), msg('uidMap', 'a non-empty array of { inside, outside, count }', '`[]` (array)'));
    throwsSync(
      () => new Namespace(['user'], { gidMap: [{ inside: 0, outside: 0, count: 0 }] }),
      msg('gidMap[0]', '{ inside, outside, count } with ids in 0..4294967294 and count > 0', '`{"inside":0,"outside":0,"count":0}` (object)'),
    );
    throwsSync(
      () => new Namespace(['user'], { uidMap: [{ inside: -1, outside: 0, count: 1 }] }),
      msg('uidMap[0]', '{ inside, outside, count } with ids in 0..4294967294 and count > 0', '`{"inside":-1,"outside":0,"count":1}` (object)'),
    );
  });

  it('should compute CLONE_NEW* flags, leaving time to init', function () {
    expect(new Namespace().cloneFlags()).to.equal(0x6e020000);
    expect(new Namespace([]).cloneFlags()).to.equal(0);
    expect(new Namespace(['time']).cloneFlags()).to.equal(0);
    expect(new Namespace(['user']).cloneFlags()).to.equal(0x10000000);
    expect(new Namespace(['mnt', 'time']).cloneFlags()).to.equal(0x00020000);
    for (const k of NAMESPACE_KINDS) {
      if (k !== 'time') expect(new Namespace([k]).cloneFlags(), k).to.equal(CLONE_FLAGS[k]);
    }
    const all = NAMESPACE_KINDS.filter((k) => k !== 'time').reduce((f, k) => f | CLONE_FLAGS[k], 0);
    expect(new Namespace([...NAMESPACE_KINDS]).cloneFlags()).to.equal(all);
  });

  it('should refuse join() with ERR_UNSUPPORTED', function () {
    throwsSync(() => Namespace.join('net', 1), { code: 'ERR_UNSUPPORTED', message: 'Joining an existing net namespace is not supported yet' });
  });

  it('should report the kinds this kernel supports', function () {
    if (containersUnavailable() !== null) this.skip();
    const kinds = Namespace.supported();
    for (const k of ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const) expect(kinds).to.include(k);
    expect(Namespace.probe('pid')).to.equal(null);
  });
});
