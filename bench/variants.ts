/**
 * The rows of the benchmark: one way each of starting `/bin/true` and
 * waiting for it, plus how to tell whether this machine can run it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Container, type ContainerOptions, type SeccompProfile } from '../lib';

/** One start of the payload; resolves with the payload's own exec→exit time when known. */
export type RunOnce = () => Promise<number | undefined>;

export interface Variant {
  /** Stable key, used for ratios ("spawn", "container", …). */
  key: string;
  /** Shown in the tables. */
  label: string;
  /** Runs in flight at once: each round starts this many together and waits for all. */
  concurrency: number;
  /** Undefined when the variant can run; otherwise why not ("not installed"). */
  unavailable?: string;
  once: RunOnce;
}

const TRUE = '/bin/true';

/** Full path of `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Version line of a tool (first line of `tool --version`), or undefined. */
export function versionOf(file: string): string | undefined {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : undefined;
}

/** child_process.spawn with stdio ignored; resolves on 'close' with exit 0. */
export function spawnOnce(file: string, args: readonly string[]): Promise<undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(undefined);
      else reject(new Error(`${file} ended with ${code ?? signal}`));
    });
  });
}

/** Runs a command once synchronously; undefined when it exits 0, else its first stderr line. */
function probe(file: string, args: readonly string[]): string | undefined {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status === 0) return undefined;
  const why = (r.stderr ?? '').trim().split('\n')[0] || r.error?.message || `exit ${r.status ?? r.signal}`;
  return `fails here: ${why}`;
}

export function plainSpawn(concurrency = 1): Variant {
  return {
    key: concurrency === 1 ? 'spawn' : `spawn-c${concurrency}`,
    label: concurrency === 1 ? 'child_process.spawn' : `child_process.spawn, ${concurrency} in flight`,
    concurrency,
    once: () => spawnOnce(TRUE, []),
  };
}

/** Container.run(['/bin/true'], options); the payload's exec→exit time is its wallTimeMs. */
export function containerRun(key: string, label: string, options: ContainerOptions, concurrency = 1): Variant {
  const once: RunOnce = async () => {
    const r = await Container.run([TRUE], options);
    if (r.status !== 'ok') throw r.error ?? new Error(`Container.run: status ${r.status}, stderr ${r.stderr}`);
    return r.wallTimeMs;
  };
  return { key, label, concurrency, once };
}

/** Checks that Container.run (with these options) works here (root, namespaces, cgroups); undefined when it does. */
export async function containerProbe(options: ContainerOptions = {}): Promise<string | undefined> {
  try {
    const r = await Container.run([TRUE], options);
    return r.status === 'ok' ? undefined : `fails here: ${r.error?.message ?? r.status}`;
  } catch (err) {
    return `fails here: ${(err as Error).message}`;
  }
}

export const BWRAP_ARGS = ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', TRUE];

export function bwrap(): Variant {
  const file = which('bwrap');
  const v: Variant = {
    key: 'bwrap',
    label: 'bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev',
    concurrency: 1,
    once: () => spawnOnce(file!, BWRAP_ARGS),
  };
  if (!file) v.unavailable = 'not installed';
  else v.unavailable = probe(file, BWRAP_ARGS);
  return v;
}

/**
 * crun with a throw-away OCI bundle: the host root read-only, fresh /proc,
 * tmpfs /dev (crun adds the default device nodes) and /tmp, the same six
 * namespaces as Container.run's default, no capabilities, no cgroup
 * (--cgroup-manager=disabled: Container.run without the `cgroup` option
 * creates none either; the cgroup rows are ours alone).
 * `root.path: "/"` fails (pivot_root: EBUSY, and --no-pivot cannot MS_MOVE
 * "/"), so the root is an empty dir with each top-level host entry bound
 * into it read-only: one bind per entry where bwrap and we do one for "/".
 */
export class Crun {
  readonly variant: Variant;
  private dir: string | undefined;
  private next = 0;

  constructor() {
    const file = which('crun');
    this.variant = {
      key: 'crun',
      label: 'crun run (OCI bundle, host root read-only)',
      concurrency: 1,
      once: () => spawnOnce(file!, this.args(`ikb-${process.pid}-${this.next++}`)),
    };
    if (!file) {
      this.variant.unavailable = 'not installed';
      return;
    }
    this.dir = mkdtempSync(join(tmpdir(), 'isolate-kit-bench-crun-'));
    mkdirSync(join(this.dir, 'state'));
    mkdirSync(join(this.dir, 'rootfs'));
    writeFileSync(join(this.dir, 'config.json'), JSON.stringify(ociConfig(), null, 2));
    this.variant.unavailable = probe(file, this.args(`ikb-${process.pid}-probe`));
  }

  private args(id: string): string[] {
    return ['--root', join(this.dir!, 'state'), '--cgroup-manager=disabled', 'run', '--bundle', this.dir!, id];
  }

  /** Deletes what a failed run may have left in our state dir, then the bundle. */
  cleanup(): void {
    if (!this.dir) return;
    const crun = which('crun');
    const state = join(this.dir, 'state');
    for (const id of readdirSync(state)) {
      if (crun) spawnSync(crun, ['--root', state, 'delete', '--force', id], { stdio: 'ignore', timeout: 10_000 });
    }
    // crun mounts only in the container's mount namespace; never recurse into a bundle that has a mount on it here.
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${this.dir}/`)) {
      process.stderr.write(`crun bundle ${this.dir} has mounts on it; left in place\n`);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

function ociConfig(): object {
  const own = new Set(['proc', 'dev', 'sys', 'tmp', 'run']);
  const binds = readdirSync('/')
    .filter((name) => !own.has(name))
    .map((name) => ({ destination: `/${name}`, type: 'bind', source: `/${name}`, options: ['rbind', 'ro', 'nosuid', 'nodev'] }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [TRUE],
      env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/tmp'],
      cwd: '/',
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'bench',
    mounts: [
      ...binds,
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ],
    linux: { namespaces: ['pid', 'mount', 'ipc', 'uts', 'network', 'cgroup'].map((type) => ({ type })) },
  };
}

/**
 * A profile shaped as Docker's default (bench only): default SCMP_ACT_ERRNO,
 * an allowlist of every native syscall the kernel headers list but the few
 * Docker guards, clone by its flags, clone3 as ENOSYS, personality's query.
 * Built from asm/unistd_64.h (linux-libc-dev); undefined where that is not
 * here (another arch), and the row is then skipped.
 */
export function dockerShapedProfile(): SeccompProfile | undefined {
  const header = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
  if (process.arch !== 'x64' || !existsSync(header)) return undefined;
  const guarded = new Set(['clone', 'clone3', 'personality', 'socket', 'unshare', 'setns', 'mount', 'umount2', 'bpf', 'ptrace', 'kexec_load', 'reboot', 'init_module', 'finit_module', 'delete_module']);
  const names = [...readFileSync(header, 'utf8').matchAll(/^#define __NR_(\w+) \d+$/gm)].map((m) => m[1]!).filter((n) => !guarded.has(n));
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
    syscalls: [
      { names, action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    ],
  };
}
