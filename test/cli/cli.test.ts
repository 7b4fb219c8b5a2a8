/**
 * The `isolate-kit` command, run as a child process exactly as a user runs
 * it, plus the parser on its own (no process needed).
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CGroup, isIsolateError } from '../../lib';
import { CGROUP_NAME_RE, DEFAULT_PARENT, hostTopology, readCgroupMounts } from '../../lib/cgroup/host';
import { UsageError, parseArgs } from '../../lib/cli/args';
import { RUN_OPTIONS, planRun } from '../../lib/cli/run-options';
import { cgroupsUnavailable, needCgroups, needContainers } from '../helpers/caps';
import { TEMP_PREFIX } from '../helpers/leaks';

const MAIN = join(__dirname, '..', '..', 'lib', 'cli', 'main.js');

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child and its output so far on every stdout chunk. */
  onStdout?: (child: ReturnType<typeof spawn>, stdout: string) => void;
}

/** The roots of the cgroup hierarchies isolate-kit uses on this host (one on v2, one per controller on v1). */
function cgroupRoots(): string[] {
  const m = readCgroupMounts();
  return [...new Set([...(m.layout === 'v2' && m.v2Mount ? [m.v2Mount] : []), ...m.v1.values()])];
}

/** cgroups named after `pid` (their owner) under `parent` in every hierarchy. */
function cgroupsOf(pid: number, parent = DEFAULT_PARENT): string[] {
  const out: string[] = [];
  for (const root of cgroupRoots()) {
    const dir = join(root, parent);
    const names = existsSync(dir) ? readdirSync(dir) : [];
    for (const n of names) if (n.startsWith(`${pid}-`)) out.push(join(dir, n));
  }
  return out;
}

/**
 * Runs the CLI to its end; never leaves the child behind (the leak hook would
 * say so). The hook only sees cgroups of the test process itself, so this
 * checks the CLI's own: once it has exited by itself, none may be left.
 */
function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      options.onStdout?.(child, stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // the CLI may exit before reading its stdin
    child.stdin.end(options.input);
    child.on('close', (code, signal) => {
      const left = code === null ? [] : cgroupsOf(child.pid!);
      if (left.length) reject(new Error(`isolate-kit ${args.join(' ')} left cgroups behind: ${left.join(', ')}`));
      else resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Every isolate-kit cgroup (whatever its owner) under `parent`, in every hierarchy. */
function groupsUnder(parent: string): string[] {
  return cgroupRoots().flatMap((root) => {
    const dir = join(root, parent);
    return existsSync(dir) ? readdirSync(dir).filter((n) => CGROUP_NAME_RE.test(n)).map((n) => join(dir, n)) : [];
  });
}

/** Is the host on cgroup v2 (unified)? Then a container's own group is all of /sys/fs/cgroup inside. */
function cgroupV2(): boolean {
  return existsSync('/sys/fs/cgroup/cgroup.controllers');
}

/**
 * Where a cgroup file is inside a container, whose group is mounted
 * read-only at /sys/fs/cgroup: the file itself on v2; on v1 under the
 * hierarchy's directory, named as on the host (pids, or cpu,cpuacct where
 * the two share one).
 */
function insideFile(controller: string, v1File: string, v2File: string): string {
  if (cgroupV2()) return `/sys/fs/cgroup/${v2File}`;
  return `/sys/fs/cgroup/${basename(readCgroupMounts().v1.get(controller) ?? controller)}/${v1File}`;
}

/** The exit status a shell reports for a process that ended so. */
function shellStatus(exitCode: number | null, signal: string | null): number | null {
  return signal === 'SIGKILL' ? 137 : signal === null ? exitCode : null;
}

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

describe('isolate-kit CLI: command line', function () {
  const plan = (...argv: string[]) => planRun(parseArgs(argv, RUN_OPTIONS, { stopAtOperand: true, topic: 'run' }), { HOSTVAR: 'from-host' });

  it('should stop at the first operand, keep -- and pass the rest to the command', function () {
    expect(plan('--json', 'sh', '-c', '--json').command).to.deep.equal(['sh', '-c', '--json']);
    expect(plan('--', '--json').command).to.deep.equal(['--json']);
    expect(plan('--timeout=2s', 'true').timeoutMs).to.equal(2000);
    expect(plan('--timeout', '2s', '--timeout', '500ms', 'true').timeoutMs, 'last one wins').to.equal(500);
  });

  it('should translate every option into container options', function () {
    const p = plan(
      '--hostname', 'judge-1',
      '--bind', '/a:/b', '--tmpfs', '/scratch:8M', '--bind', '/c:/d:ro', '--bind', '/e:/f:rw', '--tmpfs', '/t',
      '--env', 'A=1=2', '--env', 'HOSTVAR', '--env', 'NOT_ON_HOST', '--env', 'EMPTY=',
      '--cwd', '/tmp', '--user', '1000:1001', '--net', 'host', '--cap', 'NET_RAW', '--cap', 'CAP_CHOWN',
      '--rlimit', 'nofile=100:200', '--rlimit', 'as=unlimited', '--max-output', '1k', '-i', '--seccomp', 'unconfined', 'true',
    );
    expect(p.container).to.deep.equal({
      hostname: 'judge-1',
      mounts: [
        { type: 'bind', source: '/a', target: '/b', readonly: false },
        { type: 'tmpfs', target: '/scratch', size: '8M' },
        { type: 'bind', source: '/c', target: '/d', readonly: true },
        { type: 'bind', source: '/e', target: '/f', readonly: false },
        { type: 'tmpfs', target: '/t' },
      ],
      env: { A: '1=2', HOSTVAR: 'from-host', EMPTY: '' },
      cwd: '/tmp',
      user: { uid: 1000, gid: 1001 },
      network: 'host',
      capabilities: ['NET_RAW', 'CAP_CHOWN'],
      seccomp: 'unconfined',
      rlimits: { nofile: [100, 200], as: 'unlimited' },
    });
    expect(p.maxOutput).to.equal(1024);
    expect(p.interactive).to.equal(true);
    expect(p.json).to.equal(false);
  });

  it('should translate the cgroup options into cgroup limits, and give --cpu-time alone an accounting-only cgroup', function () {
    const p = plan('--memory', '64M', '--cpus', '0.5', '--pids', '64', '--cpuset', '0-1', '--cpu-time', '2s', '--cgroup-parent', 'jobs', 'true');
    expect(p.container.cgroup).to.deep.equal({ memory: '64M', cpus: 0.5, pids: 64, cpuset: '0-1' });
    expect(p.cpuTimeMs).to.equal(2000);
    expect(p.cgroupParent).to.equal('jobs');
    expect(plan('--cpu-time', '1s', 'true').container.cgroup, '--cpu-time needs a cgroup to measure on').to.deep.equal({});
    expect(plan('--cgroup-parent', 'jobs', 'true').container.cgroup).to.deep.equal({});
    expect(plan('true').container, 'no cgroup unless asked for').to.not.have.property('cgroup');
    // Values the CLI cannot read as numbers go to the library as typed, which rejects them with its own message.
    expect(plan('--pids', 'max', '--cpus', 'half', 'true').container.cgroup).to.deep.equal({ pids: 'max', cpus: 'half' });
  });

  it('should read --memory-swap as memory plus swap, as docker run does', function () {
    const M = 1024 * 1024;
    expect(plan('--memory', '64M', '--memory-swap', '96M', 'true').container.cgroup).to.deep.equal({ memory: { max: 64 * M, swapMax: 32 * M } });
    expect(plan('--memory', '64M', '--memory-swap', '64M', 'true').container.cgroup).to.deep.equal({ memory: { max: 64 * M, swapMax: 0 } });
    for (const unlimited of ['max', '-1']) {
      expect(plan('--memory', '64M', '--memory-swap', unlimited, 'true').container.cgroup).to.deep.equal({ memory: { max: 64 * M, swapMax: 'max' } });
    }
  });

  it('should map library options back to the cgroup arguments the user typed', function () {
    const p = plan('--memory=64M', '--memory-swap', '128M', '--cpus', '0.5', '--pids', '8', '--cpuset', '0', '--cpu-time', '1s', '--cgroup-parent', 'jobs', 'true');
    expect(p.attribute('memory')).to.equal('--memory 64M');
    expect(p.attribute('memory.max')).to.equal('--memory 64M');
    expect(p.attribute('memory.swapMax')).to.equal('--memory-swap 128M');
    expect(p.attribute('cpus')).to.equal('--cpus 0.5');
    expect(p.attribute('cpu'), 'the cpu controller is missing').to.equal('--cpus 0.5');
    expect(p.attribute('pids')).to.equal('--pids 8');
    expect(p.attribute('cpuset.cpus')).to.equal('--cpuset 0');
    expect(p.attribute('parent')).to.equal('--cgroup-parent jobs');
    expect(p.limitArgs).to.deep.equal({ memory: '--memory 64M', cpuTime: '--cpu-time 1s' });
  });

  it('should reject malformed command lines with a UsageError', function () {
    for (const argv of [['--bogus', 'true'], ['--hostname'], ['--json=yes', 'true'], ['-ih', 'true'], []]) {
      expect(() => plan(...argv), argv.join(' ')).to.throw(UsageError);
    }
  });

  it('should reject malformed values with an IsolateError naming the argument', function () {
    for (const [argv, text] of [
      [['--bind', '/a', 'true'], '--bind /a'],
      [['--bind', '/a:/b:rx', 'true'], '--bind /a:/b:rx'],
      [['--tmpfs', '/a:1:2', 'true'], '--tmpfs /a:1:2'],
      [['--user', 'root', 'true'], '--user root'],
      [['--net', 'bridge', 'true'], '--net bridge'],
      [['--rlimit', 'nofile', 'true'], '--rlimit nofile'],
      [['--timeout', 'soon', 'true'], '--timeout'],
      [['--cpu-time', 'soon', 'true'], '--cpu-time'],
      [['--memory-swap', '1G', 'true'], '--memory-swap 1G: needs --memory'],
      [['--memory', '64M', '--memory-swap', '32M', 'true'], '--memory-swap 32M: must be at least --memory'],
      [['--memory', '64M', '--memory-swap', 'lots', 'true'], '--memory-swap'],
    ] as const) {
      let err: unknown;
      try {
        plan(...argv);
      } catch (e) {
        err = e;
      }
      expect(isIsolateError(err), argv.join(' ')).to.equal(true);
      expect((err as Error).message).to.include(text);
    }
  });

  it('should exit 2 with the message and the usage for an unknown option, command or missing command', async function () {
    const bad = await cli(['run', '--bogus', 'true']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('isolate-kit: unknown option --bogus');
    expect(bad.stderr).to.include('Usage: isolate-kit run');
    expect(bad.stdout).to.equal('');
    const missingValue = await cli(['run', '--hostname']);
    expect(missingValue.code).to.equal(2);
    expect(missingValue.stderr).to.include('--hostname needs a value');
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.include('unknown command "frobnicate"');
    expect(unknown.stderr).to.include('Usage: isolate-kit <command>');
    expect((await cli([])).code).to.equal(2);
    const noCommand = await cli(['run', '--json']);
    expect(noCommand.code).to.equal(2);
    expect(noCommand.stderr).to.include('missing the command to run');
  });

  it('should fail with 125 naming --image for an image the store does not have', async function () {
    const store = mkdtempSync(join(tmpdir(), TEMP_PREFIX));
    try {
      const r = await cli(['run', '--image', 'no-such-image', '--store', store, 'true']);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.match(/^isolate-kit: --image no-such-image: No image no-such-image in the image store at /);
      const u = await cli(['run', '--store', store, 'true']);
      expect(u.code).to.equal(2);
      expect(u.stderr).to.include('--store goes with --image');
    } finally {
      rmSync(store, { recursive: true, force: true });
    }
  });

  it('should exit 125 naming the argument for a cgroup limit the library rejects', async function () {
    // Checked before any cgroup is looked for, so these need no root.
    for (const [args, option] of [
      [['--memory', '12Q'], 'memory'],
      [['--cpus', '-1'], 'cpus'],
      [['--cpuset', '0-999'], 'cpuset'],
      [['--pids', '0'], 'pids'],
    ] as const) {
      const r = await cli(['run', ...args, 'true']);
      expect(r.code, args.join(' ')).to.equal(125);
      expect(r.stderr).to.match(new RegExp(`^isolate-kit: ${args.join(' ')}: `));
      const j = await cli(['run', '--json', ...args, 'true']);
      expect(j.code).to.equal(125);
      expect(JSON.parse(j.stdout)).to.deep.include({ status: 'error', limit: null });
      expect(JSON.parse(j.stdout).error).to.include({ code: 'ERR_INVALID_OPTION', option });
    }
  });

  it('should print the version, and help on stdout with exit 0', async function () {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const v = await cli(['--version']);
    expect(v).to.include({ code: 0, stdout: `${pkg.version}\n` });
    for (const args of [['help'], ['--help'], ['-h']]) {
      const h = await cli(args);
      expect(h.code).to.equal(0);
      expect(h.stdout).to.include('Usage: isolate-kit <command>').and.include('Exit status:');
    }
    for (const args of [['help', 'run'], ['run', '--help'], ['run', '-h']]) {
      const h = await cli(args);
      expect(h.code).to.equal(0);
      expect(h.stdout).to.include('Usage: isolate-kit run').and.include('--rlimit NAME=SOFT[:HARD]').and.include('--memory SIZE');
    }
    for (const args of [['help', 'gc'], ['gc', '--help']]) {
      const h = await cli(args);
      expect(h).to.include({ code: 0 });
      expect(h.stdout).to.include('Usage: isolate-kit gc');
    }
    expect((await cli(['help'])).stdout).to.match(/^ {2}gc /m);
    expect((await cli(['help', 'nope'])).code).to.equal(2);
  });
});

describe('isolate-kit run', function () {
  before(function () {
    needContainers(this);
  });

  it('should print what the command prints and exit 0', async function () {
    const r = await cli(['run', 'echo', 'hello']);
    expect(r).to.deep.equal({ code: 0, signal: null, stdout: 'hello\n', stderr: '' });
    const err = await cli(['run', '--', 'sh', '-c', 'echo to-stderr >&2']);
    expect(err).to.include({ code: 0, stdout: '', stderr: 'to-stderr\n' });
  });

  it('should let the command reopen its stdout and stderr by name when ours are pipes, and stream binary output as it is', async function () {
    // Pipes of its own (nobody by default): ours, handed over, are root's
    // and would stay so (docs/cli.md).
    const r = await cli(['run', '--', 'sh', '-c', 'echo out > /dev/stdout; echo err > /proc/self/fd/2; printf "\\000\\377\\n"']);
    expect(r).to.include({ code: 0, stderr: 'err\n' });
    expect(r.stdout.startsWith('out\n')).to.equal(true);
    expect(r.stdout.length).to.equal('out\n'.length + 3);
  });

  it("should exit with the command's exit status, and 128+n when signal n killed it", async function () {
    expect((await cli(['run', 'sh', '-c', 'exit 3'])).code).to.equal(3);
    expect((await cli(['run', 'sh', '-c', 'exit 125'])).code).to.equal(125);
    expect((await cli(['run', 'sh', '-c', 'kill -9 $$'])).code).to.equal(137);
    expect((await cli(['run', 'sh', '-c', 'kill -TERM $$'])).code).to.equal(143);
  });

  it('should print the RunResult as JSON with --json and still exit with its status', async function () {
    const r = await cli(['run', '--json', 'sh', '-c', 'echo out; echo err >&2; exit 4']);
    expect(r.code).to.equal(4);
    expect(r.stderr).to.equal('');
    const result = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(result).to.include({
      status: 'nonzero',
      exitCode: 4,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
      stdoutTruncated: false,
      stderrTruncated: false,
      oomKilled: false,
      timedOut: false,
    });
    expect(result.command).to.deep.equal(['sh', '-c', 'echo out; echo err >&2; exit 4']);
    for (const k of ['wallTimeMs', 'cpuTimeMs', 'memoryPeakBytes']) expect(result[k], k).to.be.a('number');
    expect(result).to.not.have.property('error');
  });

  it('should kill the container after --timeout and exit 124 (status timeout with --json)', async function () {
    const r = await cli(['run', '--timeout', '300ms', 'sleep', '10']);
    expect(r.code).to.equal(124);
    expect(r.stderr).to.include('--timeout');
    const j = await cli(['run', '--json', '--timeout', '300ms', 'sleep', '10']);
    expect(j.code).to.equal(124);
    expect(JSON.parse(j.stdout)).to.include({ status: 'timeout', timedOut: true, signal: 'SIGKILL', exitCode: null });
  });

  it('should kill the container once the output passes --max-output and exit 124', async function () {
    const r = await cli(['run', '--max-output', '10', 'yes']);
    expect(r.code).to.equal(124);
    expect(r.stdout).to.equal('y\n'.repeat(5));
    expect(r.stderr).to.include('--max-output');
    const j = await cli(['run', '--json', '--max-output', '3', 'yes']);
    expect(j.code).to.equal(124);
    expect(JSON.parse(j.stdout)).to.include({ status: 'output-limit', stdout: 'y\ny', stdoutTruncated: true });
  });

  it('should bind a host directory read-write by default and read-only with :ro', async function () {
    await withTempDir(async (dir) => {
      writeFileSync(join(dir, 'host'), 'from host\n');
      // root inside, without capabilities, can write to the root-owned 0700 temp dir as its owner.
      const rw = await cli(['run', '--user', '0:0', '--bind', `${dir}:/tmp/data`, 'sh', '-c', 'cat /tmp/data/host; echo inside > /tmp/data/new']);
      expect(rw).to.include({ code: 0, stdout: 'from host\n' });
      expect(readFileSync(join(dir, 'new'), 'utf8')).to.equal('inside\n');

      const ro = await cli(['run', '--user', '0:0', '--bind', `${dir}:/tmp/data:ro`, 'sh', '-c', 'cat /tmp/data/host; echo x > /tmp/data/ro']);
      expect(ro.code).to.not.equal(0);
      expect(ro.stdout).to.equal('from host\n');
      expect(ro.stderr).to.match(/Read-only file system/);
      expect(existsSync(join(dir, 'ro'))).to.equal(false);
    });
  });

  it('should exit 125 naming the argument when a bind source does not exist, with a RunResult under --json', async function () {
    const missing = join(tmpdir(), `${TEMP_PREFIX}missing-${process.pid}`);
    const r = await cli(['run', '--bind', `${missing}:/tmp/data`, 'true']);
    expect(r.code).to.equal(125);
    expect(r.stderr).to.include(`isolate-kit: --bind ${missing}:/tmp/data: `).and.include('does not exist');
    const j = await cli(['run', '--json', '--bind', `${missing}:/tmp/data`, 'true']);
    expect(j.code).to.equal(125);
    const result = JSON.parse(j.stdout) as { status: string; error: Record<string, unknown> };
    expect(result.status).to.equal('error');
    expect(result.error).to.include({ code: 'ERR_INVALID_OPTION', option: 'mounts[0].source' });
  });

  it('should mount a --tmpfs of the given size', async function () {
    const r = await cli(['run', '--tmpfs', '/tmp/scratch:8M', 'sh', '-c', 'df -k /tmp/scratch | tail -1 | tr -s " " | cut -d" " -f2']);
    expect(r).to.include({ code: 0, stdout: `${8 * 1024}\n` });
  });

  it('should set --env K=V and copy --env K from the host only when set there', async function () {
    const env: NodeJS.ProcessEnv = { ...process.env, IK_CLI_HOST_VAR: 'host value' };
    delete env.IK_CLI_UNSET;
    const r = await cli(
      ['run', '--env', 'FOO=bar baz', '--env', 'IK_CLI_HOST_VAR', '--env', 'IK_CLI_UNSET', 'sh', '-c', 'echo "$FOO|$IK_CLI_HOST_VAR|${IK_CLI_UNSET-unset}|$HOME"'],
      { env },
    );
    expect(r).to.include({ code: 0, stdout: 'bar baz|host value|unset|/tmp\n' });
    const leaked = await cli(['run', 'sh', '-c', 'echo "${IK_CLI_HOST_VAR-not passed}"'], { env });
    expect(leaked.stdout, 'the host environment is never passed by default').to.equal('not passed\n');
  });

  it('should set --hostname, --cwd, --user, --rlimit and --cap', async function () {
    expect((await cli(['run', '--hostname', 'judge-7', 'hostname'])).stdout).to.equal('judge-7\n');
    const r = await cli([
      'run', '--cwd', '/tmp', '--user', '1000:1001', '--rlimit', 'nofile=100:200',
      'sh', '-c', 'pwd; id -u; id -g; ulimit -n; ulimit -Hn',
    ]);
    expect(r).to.include({ code: 0, stdout: '/tmp\n1000\n1001\n100\n200\n' });
    const caps = await cli(['run', '--user', '0', '--cap', 'NET_BIND_SERVICE', 'sh', '-c', 'grep CapEff /proc/self/status']);
    expect(caps.stdout).to.match(/CapEff:\s+0000000000000400/);
  });

  it('should keep the seccomp filter unless --seccomp unconfined, and refuse another value', async function () {
    const filters = 'grep Seccomp_filters /proc/self/status';
    expect((await cli(['run', 'sh', '-c', filters])).stdout).to.match(/Seccomp_filters:\s+1\n/);
    expect((await cli(['run', '--seccomp', 'default', 'sh', '-c', filters])).stdout).to.match(/Seccomp_filters:\s+1\n/);
    expect((await cli(['run', '--seccomp', 'unconfined', 'sh', '-c', filters])).stdout).to.match(/Seccomp_filters:\s+0\n/);
    const bad = await cli(['run', '--seccomp', 'strict', 'true']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.match(/--seccomp strict: expected unconfined, default or a seccomp profile's file, which cannot be read \(ENOENT\)/);
  });

  it("should share the host's network namespace only with --net host", async function () {
    const hostNet = readlinkSync('/proc/self/ns/net');
    expect((await cli(['run', 'readlink', '/proc/self/ns/net'])).stdout.trim()).to.not.equal(hostNet);
    expect((await cli(['run', '--net', 'none', 'readlink', '/proc/self/ns/net'])).stdout.trim()).to.not.equal(hostNet);
    expect((await cli(['run', '--net', 'host', 'readlink', '/proc/self/ns/net'])).stdout.trim()).to.equal(hostNet);
  });

  it('should give the command /dev/null as stdin unless -i passes ours', async function () {
    expect((await cli(['run', 'cat'], { input: 'data\n' })).stdout).to.equal('');
    expect((await cli(['run', '-i', 'cat'], { input: 'data\n' })).stdout).to.equal('data\n');
    const j = await cli(['run', '--interactive', '--json', 'cat'], { input: 'json data' });
    expect(JSON.parse(j.stdout)).to.include({ status: 'ok', stdout: 'json data' });
  });

  it('should exit 127 when the command is not found and 126 when it cannot be executed', async function () {
    const r = await cli(['run', 'no-such-command-here']);
    expect(r.code).to.equal(127);
    expect(r.stderr).to.include('isolate-kit: ').and.include('ENOENT');
    const j = await cli(['run', '--json', 'no-such-command-here']);
    expect(j.code).to.equal(127);
    expect(JSON.parse(j.stdout).error).to.include({ code: 'ERR_EXEC_FAILED', errnoCode: 'ENOENT', syscall: 'execve' });
    const x = await cli(['run', '/tmp']); // a directory: execve says EACCES
    expect(x.code).to.equal(126);
    expect(x.stderr).to.include('EACCES');
  });

  it('should forward SIGTERM and SIGINT to the container and exit with the result', async function () {
    let sent = false;
    const signalWhenReady = (sig: NodeJS.Signals) => (child: ReturnType<typeof spawn>, stdout: string) => {
      if (!sent && stdout.includes('ready')) {
        sent = true;
        child.kill(sig);
      }
    };
    const term = await cli(['run', 'sh', '-c', 'echo ready; sleep 30'], { onStdout: signalWhenReady('SIGTERM') });
    expect(term.code).to.equal(143);
    sent = false;
    const int = await cli(['run', 'sh', '-c', 'trap "echo got INT; exit 7" INT; echo ready; while :; do sleep 0.1; done'], {
      onStdout: signalWhenReady('SIGINT'),
    });
    expect(int).to.include({ code: 7, stdout: 'ready\ngot INT\n' });
  });

  it('should kill the container on a second signal when the command ignores the first', async function () {
    let sent = 0;
    const r = await cli(['run', 'sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done'], {
      onStdout: (child, stdout) => {
        if (sent === 0 && stdout.includes('ready')) {
          sent = 1;
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGTERM'), 200);
        }
      },
    });
    expect(r.code).to.equal(137);
  });
});

describe('isolate-kit run with cgroup limits', function () {
  this.timeout(30_000);
  before(function () {
    needCgroups(this);
  });

  it('should run the README example', async function () {
    const r = await cli(['run', '--memory', '64M', '--', 'sh', '-c', 'echo hello']);
    expect(r).to.deep.equal({ code: 0, signal: null, stdout: 'hello\n', stderr: '' });
  });

  it("should report the OOM killer: the payload's own status, a message, and status 'oom' with --json", async function () {
    const hog = ['sh', '-c', 'x=$(head -c 200M /dev/zero | tr "\\0" a); echo survived'];
    const j = await cli(['run', '--json', '--memory', '32M', ...hog]);
    const result = JSON.parse(j.stdout) as { status: string; oomKilled: boolean; limit: string; exitCode: number | null; signal: string | null; stdout: string };
    expect(result).to.include({ status: 'oom', oomKilled: true, limit: 'memory', stdout: '' });
    // The shell holding the 200M string is the biggest process: the OOM killer's SIGKILL ends it.
    expect(j.code, 'as docker run: the status the command ended with').to.equal(shellStatus(result.exitCode, result.signal)).and.to.equal(137);
    expect(j.stderr).to.include('isolate-kit: the container ran out of memory (--memory 32M)');

    const r = await cli(['run', '--memory', '32M', ...hog]);
    expect(r.code).to.equal(137);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.include('isolate-kit: the container ran out of memory (--memory 32M)');
  });

  it('should set --pids, --memory and --cpus, read back inside', async function () {
    const files = [
      insideFile('pids', 'pids.max', 'pids.max'),
      insideFile('memory', 'memory.limit_in_bytes', 'memory.max'),
      insideFile('cpu', 'cpu.cfs_quota_us', 'cpu.max'),
    ];
    const r = await cli(['run', '--pids', '8', '--memory', '48M', '--cpus', '0.5', 'sh', '-c', files.map((f) => `cat ${f}`).join('; ')]);
    expect(r).to.deep.include({ code: 0, stderr: '' });
    expect(r.stdout).to.equal(`8\n${48 * 1024 * 1024}\n${cgroupV2() ? '50000 100000' : '50000'}\n`);
  });

  it('should stop a fork bomb at --pids', async function () {
    // The shell cannot fork its 8th process and gives up; the sleepers go with the container.
    const r = await cli(['run', '--pids', '8', 'sh', '-c', 'for i in $(seq 20); do sleep 30 & done; echo not reached']);
    expect(r.code).to.not.equal(0);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/fork/i);
  });

  it('should pin to --cpuset', async function () {
    const r = await cli(['run', '--cpuset', '0', 'sh', '-c', 'grep Cpus_allowed_list /proc/self/status']);
    expect(r.stdout).to.match(/^Cpus_allowed_list:\s+0$/m);
  });

  it('should set swap with --memory-swap, or fail naming it where swap is not accounted', async function () {
    const v2 = cgroupV2();
    const accounted = v2 ? true : existsSync(join(readCgroupMounts().v1.get('memory') ?? '/nonexistent', 'memory.memsw.limit_in_bytes'));
    const file = insideFile('memory', 'memory.memsw.limit_in_bytes', 'memory.swap.max');
    const r = await cli(['run', '--memory', '32M', '--memory-swap', '96M', 'cat', file]);
    if (!accounted) {
      expect(r.code).to.equal(125);
      expect(r.stderr).to.include('isolate-kit: --memory-swap 96M: ');
      return;
    }
    expect(r).to.deep.include({ code: 0, stderr: '' });
    // v2 files hold the swap alone; v1's memsw holds memory plus swap, as the flag does.
    expect(r.stdout).to.equal(`${(v2 ? 64 : 96) * 1024 * 1024}\n`);
  });

  it('should kill the container once it used --cpu-time and exit 124 (limit cpuTime with --json)', async function () {
    const spin = ['sh', '-c', 'while :; do :; done'];
    const r = await cli(['run', '--cpu-time', '300ms', ...spin]);
    expect(r.code).to.equal(124);
    expect(r.stderr).to.include('isolate-kit: the container used up its CPU time (--cpu-time 300ms)');
    const j = await cli(['run', '--json', '--cpu-time', '300ms', ...spin]);
    expect(j.code).to.equal(124);
    const result = JSON.parse(j.stdout) as { status: string; limit: string; timedOut: boolean; cpuTimeMs: number };
    expect(result).to.include({ status: 'timeout', limit: 'cpuTime', timedOut: true });
    expect(result.cpuTimeMs).to.be.at.least(300);
    // A sleeper uses no CPU: --cpu-time never fires (wall time is --timeout's job).
    expect((await cli(['run', '--cpu-time', '300ms', 'sleep', '0.6'])).code).to.equal(0);
  });

  it('should put the cgroup under --cgroup-parent', async function () {
    const parent = `isolate-kit-cli-test-${process.pid}`;
    try {
      let seen: string[] = [];
      const r = await cli(['run', '--cgroup-parent', parent, '--pids', '16', 'sh', '-c', 'echo ready; sleep 30'], {
        onStdout: (child, stdout) => {
          if (seen.length || !stdout.includes('ready')) return;
          seen = cgroupsOf(child.pid!, parent);
          child.kill('SIGTERM');
        },
      });
      expect(r.code).to.equal(143);
      expect(seen).to.have.length.above(0);
      expect(groupsUnder(parent), 'removed at the end').to.deep.equal([]);
    } finally {
      // The parent itself stays, as docker's --cgroup-parent does: it is the user's.
      for (const root of cgroupRoots()) if (existsSync(join(root, parent))) rmdirSync(join(root, parent));
    }
  });

  it('should leave a cgroup behind only when killed with SIGKILL, and gc should remove it', async function () {
    let pid = 0;
    const r = await cli(['run', '--memory', '64M', 'sh', '-c', 'echo ready; sleep 30'], {
      onStdout: (child, stdout) => {
        if (pid || !stdout.includes('ready')) return;
        pid = child.pid!;
        child.kill('SIGKILL');
      },
    });
    expect(r.signal).to.equal('SIGKILL');
    const left = cgroupsOf(pid);
    expect(left, 'nothing could clean up after a SIGKILL').to.have.length.above(0);
    const gc = await cli(['gc', '--json']);
    expect(gc.code).to.equal(0);
    const report = JSON.parse(gc.stdout) as { cgroups: { removed: string[]; failed: unknown[] } };
    expect(report.cgroups.removed).to.include.members(left);
    expect(cgroupsOf(pid)).to.deep.equal([]);
  });
});

describe('isolate-kit probe', function () {
  it('should list the kernel, every namespace kind and the cgroup layout', async function () {
    const r = await cli(['probe']);
    expect(r.code).to.equal(0);
    for (const label of ['kernel', 'addon', 'namespaces', 'mount API', 'overlayfs', 'unprivileged user namespaces', 'cgroup', 'libseccomp', 'landlock']) {
      expect(r.stdout).to.match(new RegExp(`^${label}\\s`, 'm'));
    }
    for (const kind of ['pid', 'net', 'ipc', 'mnt', 'uts', 'user', 'cgroup', 'time']) {
      expect(r.stdout).to.match(new RegExp(`^  ${kind}\\s+(ok|no: .+)$`, 'm'));
    }
    expect(r.stdout).to.match(/^ {2}v2 controllers\s/m).and.match(/^ {2}v1 controllers\s/m);
    // Whether a memory limit bounds swap here, and how the group shows it.
    const swap = /^ {2}swap accounting\s+(ok|no)\b/m.exec(r.stdout);
    expect(swap, r.stdout).to.not.equal(null);
    const counted = swap![1] === 'ok';
    // And huge pages.
    const huge = /^ {2}huge pages\s+(ok|no)\b/m.exec(r.stdout);
    expect(huge, r.stdout).to.not.equal(null);
    if (cgroupsUnavailable() === null) {
      const { hugetlbMax, ...memory } = new CGroup({ memory: '64M' }).limits.memory!;
      expect(memory).to.deep.equal(counted ? { max: 64 * 1024 * 1024, swapMax: 0 } : { max: 64 * 1024 * 1024 });
      expect(hugetlbMax !== undefined).to.equal(huge![1] === 'ok' && (hostTopology().hugePages ?? []).length > 0);
    }
  });

  it('should print the report as JSON with --json', async function () {
    const r = await cli(['probe', '--json']);
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.stdout) as {
      namespaces: Record<string, { ok: boolean }>;
      cgroup: { layout: string; version: number | null; usable: { ok: boolean; reason?: string; parents?: string[] } };
    };
    expect(Object.keys(report.namespaces)).to.include.members(['pid', 'net', 'mnt', 'user']);
    expect(report.cgroup.layout).to.be.oneOf(['v2', 'hybrid', 'v1', 'none']);
    expect(report.cgroup.version).to.equal({ v2: 2, hybrid: 1, v1: 1, none: null }[report.cgroup.layout]);
    if (report.cgroup.usable.ok) expect(report.cgroup.usable.parents).to.be.an('array').that.is.not.empty;
    else expect(report.cgroup.usable.reason).to.be.a('string');
    expect((await cli(['probe', 'extra'])).code).to.equal(2);
  });

  it('should say which cgroup version is used and whether cgroups are usable', async function () {
    const r = await cli(['probe']);
    expect(r.stdout).to.match(/^ {2}version\s+(1|2|\(none\))/m);
    expect(r.stdout).to.match(/^ {2}usable\s+(ok|no: .+)$/m);
    if (/^ {2}usable\s+ok$/m.test(r.stdout)) expect(r.stdout).to.match(/^ {4}parent\s+\//m).and.match(/^ {4}controllers\s/m);
  });
});

describe('isolate-kit gc', function () {
  it('should run, say what it removed, and exit 0', async function () {
    const r = await cli(['gc']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^(removed \/|nothing to remove$|cgroups: skipped: )/m);
    const j = await cli(['gc', '--json']);
    expect(j.code).to.equal(0);
    const report = JSON.parse(j.stdout) as { cgroups: { removed: unknown[]; failed: unknown[] } };
    expect(report.cgroups.removed).to.be.an('array');
    expect(report.cgroups.failed).to.deep.equal([]);
    expect((await cli(['gc', 'extra'])).code).to.equal(2);
    expect((await cli(['gc', '--bogus'])).code).to.equal(2);
  });
});
