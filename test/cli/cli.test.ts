/**
 * The `isolate-kit` command, run as a child process exactly as a user runs
 * it, plus the parser on its own (no process needed).
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIsolateError } from '../../lib';
import { UsageError, parseArgs } from '../../lib/cli/args';
import { RUN_OPTIONS, planRun } from '../../lib/cli/run-options';
import { needContainers } from '../helpers/caps';
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

/** Runs the CLI to its end; never leaves the child behind (the leak hook would say so). */
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
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
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
      '--rlimit', 'nofile=100:200', '--rlimit', 'as=unlimited', '--max-output', '1k', '-i', 'true',
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
      rlimits: { nofile: [100, 200], as: 'unlimited' },
    });
    expect(p.maxOutput).to.equal(1024);
    expect(p.interactive).to.equal(true);
    expect(p.json).to.equal(false);
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
      [['--memory', '1G', 'true'], '--memory'],
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

  it('should fail with 125 and "not supported yet" for --memory, --cpus, --pids and --image', async function () {
    for (const [opt, value] of [['--memory', '256M'], ['--cpus', '0.5'], ['--pids', '64'], ['--image', 'alpine']]) {
      const r = await cli(['run', opt!, value!, 'true']);
      expect(r.code, opt).to.equal(125);
      expect(r.stderr).to.include(`isolate-kit: ${opt} is not supported yet`);
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
      expect(h.stdout).to.include('Usage: isolate-kit run').and.include('--rlimit NAME=SOFT[:HARD]');
    }
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

describe('isolate-kit probe', function () {
  it('should list the kernel, every namespace kind and the cgroup layout', async function () {
    const r = await cli(['probe']);
    expect(r.code).to.equal(0);
    for (const label of ['kernel', 'addon', 'namespaces', 'mount API', 'overlayfs', 'unprivileged user namespaces', 'cgroup', 'libseccomp']) {
      expect(r.stdout).to.match(new RegExp(`^${label}\\s`, 'm'));
    }
    for (const kind of ['pid', 'net', 'ipc', 'mnt', 'uts', 'user', 'cgroup', 'time']) {
      expect(r.stdout).to.match(new RegExp(`^  ${kind}\\s+(ok|no: .+)$`, 'm'));
    }
    expect(r.stdout).to.match(/^ {2}v2 controllers\s/m).and.match(/^ {2}v1 controllers\s/m);
  });

  it('should print the report as JSON with --json', async function () {
    const r = await cli(['probe', '--json']);
    expect(r.code).to.equal(0);
    const report = JSON.parse(r.stdout) as { namespaces: Record<string, { ok: boolean }>; cgroup: { layout: string } };
    expect(Object.keys(report.namespaces)).to.include.members(['pid', 'net', 'mnt', 'user']);
    expect(report.cgroup.layout).to.be.oneOf(['v2', 'hybrid', 'v1', 'none']);
    expect((await cli(['probe', 'extra'])).code).to.equal(2);
  });
});
