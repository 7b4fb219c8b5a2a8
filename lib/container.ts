import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import { IsolateError, checkKeys, describeErrno, fromSystemError, invalidOption, isIsolateError, showValue } from './errors';
import { checkExecSize } from './exec-size';
import { KERNEL_MOUNTPOINTS, checkCwdInRoot, planCgroupfs, planFilesystem, resolveMounts, stagingDir, type MountSpec, type ResolvedMount } from './filesystem';
import { LayerStack } from './layer-stack';
import { diffUpper, isSetupMountpoint, type Change } from './image/diff';
import type { Layer } from './image/layer';
import type { ExtractLimits } from './image/contracts';
import { Image } from './image/image';
import { leaseLayers } from './layer-leases';
import { imageCommand, imageDefaults, type ImageDefaults } from './image/run-config';
import type { ImageStore } from './image/store';

/** ImageStore.default(), loaded when first needed (the store pulls in the tar and archive code). */
function defaultStore(): ImageStore {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('./image/store') as typeof import('./image/store')).ImageStore.default();
}
import { LANDLOCK_STEP, landlockMode } from './landlock';
import { compileSeccompProfile, type SeccompProfile } from './seccomp-profile';
import { CAP_SYS_ADMIN } from './host-caps';
import { Namespace, toNamespace, type NamespaceKind } from './namespace';
import { CONTAINER_ID, NativeEvent, native, nativeForSpawn, type NativeHandle, type NativeStdio } from './native';
import { Op, PLAN_F_MNTNS, PLAN_F_PIDNS, PLAN_F_TRACE, PlanBuilder, SC_CGROUP_JOIN, SC_FSOPEN, SC_OPEN, SYSCALL_NAMES, type PlanStep } from './plan';
import { ContainerProcess, checkSignal, decodeWaitStatus, signalName } from './process';
import {
  DEFAULT_ENV,
  NOBODY,
  checkCapabilities,
  checkCommand,
  checkCwd,
  checkRlimits,
  checkUser,
  mergeEnv,
  planProcess,
  type ProcessSpec,
  type RlimitOptions,
  type UserOptions,
} from './process-options';
import { RUN_LIMIT_KEYS, collect, resolveLimits, withCgroupFigures, type RunLimits, type RunMeter, type RunResult } from './run';
import { CGroup } from './cgroup/cgroup';
import { TIMER_MAX_MS, TIMER_MAX_TEXT } from './units';
import type { CGroupStats, FinalFigures } from './cgroup/backend';
import { parseCpuList, type CGroupLimits } from './cgroup/limits';
import { hostTopology } from './cgroup/host';

/** Options of a container. Every field is optional; see docs/api.md for each default. */
export interface ContainerOptions {
  /** Namespaces to create. @default pid, mnt, uts, ipc, net, cgroup */
  namespaces?: Namespace | NamespaceKind[] | Partial<Record<NamespaceKind, boolean>>;
  /** The root filesystem. @default the image's layers with `image`; else LayerStack.host(): the host root, read-only. See LayerStack.fromDirectories(). */
  rootfs?: LayerStack;
  /**
   * An image (or its name or ID in ImageStore.default()): its layers are the
   * root (unless `rootfs` is given) and its config gives the defaults: Env
   * (under `env`), WorkingDir, User, and the main command: Entrypoint +
   * (the command given, or Cmd). See docs/images.md.
   */
  image?: Image | string;
  /** Extra bind and tmpfs mounts. @default [] */
  mounts?: MountSpec[];
  /** Hostname inside (needs the uts namespace). @default 'isolate-kit' */
  hostname?: string;
  /** Environment, merged over PATH and HOME=/tmp; null removes one. Never the host's. */
  env?: Record<string, string | null | undefined>;
  /** Working directory inside. @default '/' */
  cwd?: string;
  /** User of the payload. @default { uid: 65534, gid: 65534 } (nobody) on the host root */
  user?: UserOptions;
  /** 'none': own network namespace with only loopback, up; 'host': the host's network. @default 'none' */
  network?: 'none' | 'host';
  /** Capabilities the payload keeps, e.g. ['CAP_NET_BIND_SERVICE']. @default [] (none, in all five sets) */
  capabilities?: string[];
  /** Set no_new_privs: setuid binaries and file capabilities grant nothing. @default true */
  noNewPrivileges?: boolean;
  /** Resource limits (setrlimit); none above this process's hard limit without CAP_SYS_RESOURCE. @default { core: 0, nofile: [1024, 4096] }, each capped at this process's hard limit */
  rlimits?: RlimitOptions;
  /** Keep the root read-only (the host root always is; a layered root is writable unless this is true). @default true for the host root, false for a layered one */
  readonlyRootfs?: boolean;
  /**
   * Seccomp. By default every process in the container gets a filter that
   * stops it making user namespaces (as Docker's default profile does): in
   * one it could mount the cgroup filesystem and see the host's groups, or,
   * as uid 0, write the limits of its own group. The same filter allows
   * netlink sockets of NETLINK_ROUTE only (the kernel charges netlink queues
   * to no memory cgroup) and refuses io_uring and i386 socketcall() sockets,
   * which would go round it, the kernel's keyrings, which are shared by
   * every process of a uid, other containers' included, and file leases,
   * which a uid-0 payload could take on the host's files (docs/security.md).
   * 'default' is that filter; 'unconfined' lifts it. A profile (Docker's or
   * the OCI runtime spec's JSON, parsed) is installed in every process over
   * that filter, which it cannot lift: compiled by libseccomp, loaded at run
   * time (docs/security.md, "Seccomp profiles").
   * @default 'default'
   */
  seccomp?: 'default' | 'unconfined' | SeccompProfile;
  /**
   * Resource limits and accounting: a CGroup, or its limits (`{ memory:
   * '256M', cpus: 0.5, pids: 64 }`; `{}` for accounting only). A group made
   * here (or a CGroup not yet created) is the container's: made at start,
   * removed when the container ends. @default none
   */
  cgroup?: CGroup | CGroupLimits;
}

/** Per-process options of spawn() and run(); they override the container's. */
export interface ProcessOptions {
  env?: Record<string, string | null | undefined>;
  cwd?: string;
  user?: UserOptions;
}

/** stdio of one fd: a new pipe, /dev/null, this process's own fd, or any fd number. */
export type StdioOption = 'pipe' | 'ignore' | 'inherit' | number;

export interface SpawnOptions extends ProcessOptions {
  /** @default ['pipe', 'pipe', 'pipe'] */
  stdio?: StdioOption | [StdioOption, StdioOption, StdioOption];
}

export type RunOptions = ProcessOptions & RunLimits;

export type ContainerState = 'created' | 'running' | 'paused' | 'stopped' | 'destroyed';

export interface ContainerEvents {
  /** The container is set up (its first process, if any, is about to run). */
  start: () => void;
  /** The container ended: its main process's status, or init's. */
  exit: (exitCode: number | null, signalCode: NodeJS.Signals | null) => void;
  /** The container could not be set up. */
  error: (err: IsolateError) => void;
  /** The OOM killer ended a process in the container's cgroup; `oomKills` counts them so far. */
  oom: (oomKills: number) => void;
}

interface ResolvedConfig {
  namespaces: Namespace;
  rootfs: LayerStack;
  readonlyRootfs: boolean;
  mounts: ResolvedMount[];
  hostname: string | undefined;
  env: Record<string, string>;
  cwd: string;
  user: Required<UserOptions>;
  network: 'none' | 'host';
  capabilities: bigint;
  noNewPrivileges: boolean;
  seccomp: 'unconfined' | undefined;
  /** The caller's profile, compiled (two u32 per BPF instruction): installed in each process over init's filter. */
  seccompFilter: number[] | undefined;
  rlimits: [number, bigint, bigint][];
  cgroup: CGroup | undefined;
  /** The image's defaults, when made from one. */
  image: ImageDefaults | undefined;
}

const CONTAINER_KEYS = [
  'namespaces',
  'rootfs',
  'mounts',
  'hostname',
  'env',
  'cwd',
  'user',
  'network',
  'capabilities',
  'noNewPrivileges',
  'rlimits',
  'readonlyRootfs',
  'seccomp',
  'cgroup',
  'image',
] as const;
const PROCESS_KEYS = ['env', 'cwd', 'user'] as const;

function optionsNotObject(value: unknown): IsolateError {
  return new IsolateError('ERR_INVALID_OPTION', `Expected the options to be an object, got ${showValue(value)}`, { option: 'options' });
}

const HOSTNAME_RE = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Validates every container option; nothing is created. */
function resolveConfig(options: ContainerOptions): ResolvedConfig {
  if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
  checkKeys('container', options, CONTAINER_KEYS);
  let namespaces = toNamespace(options.namespaces);
  if (options.network !== undefined && options.network !== 'none' && options.network !== 'host') {
    throw invalidOption('network', "'none' or 'host'", options.network);
  }
  if (options.network === 'host') namespaces = namespaces.without('net');
  if (options.network === 'none') namespaces = namespaces.with('net');
  const network = namespaces.has('net') ? 'none' : 'host';
  if (namespaces.has('user')) {
    throw new IsolateError('ERR_UNSUPPORTED', 'User namespaces (rootless containers) are not supported yet', { option: 'namespaces' });
  }
  const capabilities = checkCapabilities(options.capabilities);
  if (options.noNewPrivileges !== undefined && typeof options.noNewPrivileges !== 'boolean') {
    throw invalidOption('noNewPrivileges', 'a boolean', options.noNewPrivileges);
  }
  const noNewPrivileges = options.noNewPrivileges ?? true;
  let seccompFilter: number[] | undefined;
  if (typeof options.seccomp === 'object' && options.seccomp !== null) {
    // The kernel takes a filter from a process without CAP_SYS_ADMIN only under no_new_privs.
    if (!noNewPrivileges && (capabilities & (1n << BigInt(CAP_SYS_ADMIN))) === 0n) {
      throw invalidOption('noNewPrivileges', 'true (the default) with a seccomp profile', false, 'the kernel installs a filter for a process without CAP_SYS_ADMIN only under no_new_privs');
    }
    seccompFilter = compileSeccompProfile(options.seccomp, capabilities);
  } else if (options.seccomp !== undefined && options.seccomp !== 'unconfined' && options.seccomp !== 'default') {
    throw invalidOption('seccomp', "'default', 'unconfined' or a seccomp profile (Docker's or the OCI spec's JSON, parsed)", options.seccomp);
  }
  let image: ImageDefaults | undefined;
  let imageStack: LayerStack | undefined;
  if (options.image !== undefined) {
    let img: Image;
    if (options.image instanceof Image) img = options.image;
    else if (typeof options.image === 'string' && options.image !== '') img = defaultStore().image(options.image);
    else throw invalidOption('image', 'an Image, or the name or ID of one in the default ImageStore', options.image);
    image = imageDefaults(img);
    if (options.rootfs === undefined) imageStack = img.stack();
  }
  const rootfs = options.rootfs ?? imageStack ?? LayerStack.host();
  if (!(rootfs instanceof LayerStack)) throw invalidOption('rootfs', 'a LayerStack', rootfs);
  if (options.readonlyRootfs !== undefined && typeof options.readonlyRootfs !== 'boolean') {
    throw invalidOption('readonlyRootfs', 'a boolean', options.readonlyRootfs);
  }
  if (options.readonlyRootfs === false && rootfs.readonly) {
    throw invalidOption('readonlyRootfs', 'true for the host root, which is always read-only', false);
  }
  // The host root is always read-only; a layered one is writable unless asked.
  const readonlyRootfs = options.readonlyRootfs ?? rootfs.readonly;
  const mounts = resolveMounts(options.mounts, rootfs);
  if (!namespaces.has('mnt') && (mounts.length > 0 || options.rootfs !== undefined)) {
    throw new IsolateError('ERR_INVALID_OPTION', "`rootfs` and `mounts` need the 'mnt' namespace, which `namespaces` leaves out", {
      option: 'namespaces',
    });
  }
  let hostname: string | undefined;
  if (options.hostname !== undefined) {
    if (typeof options.hostname !== 'string' || !HOSTNAME_RE.test(options.hostname)) {
      throw invalidOption('hostname', 'a host name (letters, digits, "-" and ".", at most 64 characters)', options.hostname);
    }
    if (!namespaces.has('uts')) {
      throw new IsolateError('ERR_INVALID_OPTION', "`hostname` needs the 'uts' namespace, which `namespaces` leaves out", {
        option: 'namespaces',
      });
    }
    hostname = options.hostname;
  } else if (namespaces.has('uts')) {
    hostname = 'isolate-kit';
  }
  return {
    namespaces,
    rootfs,
    readonlyRootfs,
    mounts,
    hostname,
    env: mergeEnv({ ...DEFAULT_ENV, ...image?.env }, options.env),
    cwd: options.cwd === undefined ? (image?.cwd ?? '/') : checkGivenCwd(options.cwd, rootfs, mounts, true, namespaces.has('mnt')),
    user: options.user === undefined ? (image?.user ?? { ...NOBODY }) : checkUser(options.user),
    image,
    network,
    capabilities,
    noNewPrivileges,
    seccomp: options.seccomp === 'unconfined' ? 'unconfined' : undefined,
    seccompFilter,
    rlimits: checkRlimits(options.rlimits),
    cgroup: options.cgroup === undefined ? undefined : options.cgroup instanceof CGroup ? options.cgroup : new CGroup(options.cgroup),
  };
}

/**
 * A `cwd` the caller gave: a valid path, and one that can be there at start
 * (checkCwdInRoot; an image's WorkingDir is not checked: Docker makes a
 * missing one). `fresh`: nothing has run in the container yet.
 */
function checkGivenCwd(value: unknown, rootfs: LayerStack, mounts: readonly ResolvedMount[], fresh: boolean, mntns: boolean): string {
  const cwd = checkCwd(value);
  checkCwdInRoot(cwd, 'cwd', rootfs, mounts, fresh, mntns);
  return cwd;
}

function stdioSpec(value: SpawnOptions['stdio']): NativeStdio {
  const list = value === undefined ? ['pipe', 'pipe', 'pipe'] : Array.isArray(value) ? value : [value, value, value];
  if (list.length !== 3) throw invalidOption('stdio', 'a stdio value or an array of three', value);
  return list.map((s, i) => {
    if (s === 'pipe') return -1;
    if (s === 'ignore') return -2;
    const fd = s === 'inherit' ? i : s;
    if (!Number.isInteger(fd) || (fd as number) < 0) throw invalidOption(`stdio[${i}]`, "'pipe', 'ignore', 'inherit' or an fd number", s);
    try {
      fstatSync(fd as number);
    } catch (err) {
      throw new IsolateError('ERR_INVALID_OPTION', `stdio[${i}]: fd ${fd} is not open in this process`, { option: `stdio[${i}]`, cause: err });
    }
    return fd as number;
  }) as NativeStdio;
}

/** Which of the fds the addon makes a pipe for ('pipe'): bit k for fd k. */
function ownPipes(stdio: NativeStdio): number {
  return stdio.reduce((mask: number, fd, k) => (fd === -1 ? mask | (1 << k) : mask), 0);
}

/** Turns an init failure record into an IsolateError naming the step. */
function stepError(steps: readonly PlanStep[], command: readonly string[] | undefined, index: number, sc: number, errno: number): IsolateError {
  const step = steps[index];
  const syscall = SYSCALL_NAMES[sc] ?? `syscall ${sc}`;
  const [name, text] = describeErrno(errno);
  if (sc === SC_CGROUP_JOIN) {
    return new IsolateError('ERR_SETUP_FAILED', `Cannot put the container into its cgroup: ${syscall}: ${name} (${text})`, {
      step: 'join the cgroup',
      syscall,
      errno,
      errnoCode: name,
    });
  }
  const details = { step: step?.description, stepIndex: index, syscall, path: step?.path, errno, errnoCode: name };
  if (sc === 22 /* IK_SC_EXECVE */ && command) {
    return new IsolateError('ERR_EXEC_FAILED', `Cannot run \`${command[0]}\` in the container: ${syscall}: ${name} (${text})`, details);
  }
  const what = step ? `\`${step.description}\`` : `step ${index}`;
  if (sc === SC_FSOPEN && errno === 19 /* ENODEV */) {
    // The kernel has no overlayfs (not built, module not loadable): a host limit, not a setup bug.
    return new IsolateError('ERR_UNSUPPORTED', `A layered root needs overlayfs, which this kernel does not have (${what}: fsopen("overlay"): ENODEV); load the overlay module`, details);
  }
  if (sc === SC_OPEN && errno === 40 /* ELOOP */ && step?.path !== undefined) {
    // init resolves targets inside the new root (csrc/init/setup.c): ELOOP
    // there is a link where none may be, a link to the root itself (a mount
    // would hide it all) or a loop.
    const why = step.noSymlinks
      ? `goes through a symbolic link, and the kernel's filesystems (/proc, /sys, /dev) and what is in them go on the image's own directories only`
      : `is the root itself or a loop of symbolic links`;
    return new IsolateError('ERR_SETUP_FAILED', `Container setup failed at ${what}: ${step.path}, resolved inside the container's root, ${why} (${syscall}: ${name})`, details);
  }
  return new IsolateError('ERR_SETUP_FAILED', `Container setup failed at ${what}: ${syscall}: ${name} (${text})`, details);
}

function spawnError(err: unknown, namespaces: Namespace): IsolateError {
  const e = err as NodeJS.ErrnoException;
  const errno = Math.abs(typeof e.errno === 'number' ? e.errno : 0);
  if (e.code === 'EPERM' && e.syscall === 'clone') {
    return fromSystemError('ERR_PERMISSION', `Creating ${namespaces.kinds.join(', ')} namespaces needs root (CAP_SYS_ADMIN); rootless containers are not supported yet`, err);
  }
  if (e.code === 'EINVAL' || e.code === 'ENOSYS') {
    return fromSystemError('ERR_UNSUPPORTED', `This kernel cannot create ${namespaces.kinds.join(', ')} namespaces`, err);
  }
  return fromSystemError(errno ? 'ERR_SETUP_FAILED' : 'ERR_NATIVE', 'Cannot start the container', err);
}

/**
 * A sandbox: namespaces, a root filesystem and the processes inside it.
 *
 * `spawn()` or `run()` on a new container starts it with that command as its
 * main process; the container ends when the main process does (like
 * `docker run`). `start()` starts it empty; processes spawned then come and go
 * (like `docker exec`) until `stop()`.
 */
export class Container extends EventEmitter<ContainerEvents> {
  private madeId: string | undefined;
  /** Random id, for logs (made when first asked: the random bytes cost ~20 µs a container). */
  get id(): string {
    return (this.madeId ??= randomBytes(6).toString('hex'));
  }
  /** init's pid on the host, while running. */
  pid: number | undefined;
  private currentState: ContainerState = 'created';
  private readonly config: ResolvedConfig;
  private handle: NativeHandle | undefined;
  private readonly processes = new Map<number, { proc: ContainerProcess; steps: readonly PlanStep[] }>();
  private mainId: number | undefined;
  private nextId = 1;
  private containerSteps: readonly PlanStep[] = [];
  private setupError: IsolateError | undefined;
  private readonly exited: Promise<void>;
  private resolveExited!: () => void;
  private startWaiters: { resolve: () => void; reject: (e: IsolateError) => void }[] = [];
  private refed = true;
  /** The main process's [exitCode, signal], once its exit record came. */
  private mainExit: [number | null, number | null] | undefined;
  /** kill()/stop()/destroy() ended it (so an unfinished start is ERR_STATE, not a setup failure). */
  private killedByUs = false;
  /** Exec'd runs whose limit killed the container (init did not act): killed, even if init never reported their start. */
  private readonly killedPending = new Set<number>();
  /** pause() calls waiting for their freeze (thawForKill). */
  private pausing = 0;
  /** We made the cgroup at start, so we remove it at the end. */
  private cgroupOwned = false;
  /** The cgroup's figures when the container ended (read before it was removed). */
  private cgroupFinal: FinalFigures | undefined;
  /** Settles once an owned cgroup is removed. */
  private cgroupGone: Promise<void> = Promise.resolve();
  /** Its removal was put off to the next turn of the event loop (dropCgroupSoon): Container.run need not wait for it. */
  private groupRemovalDeferred = false;
  /** Lets go of the layers it holds from its start until destroy() (layer-leases.ts). */
  private releaseLayers: (() => void) | undefined;
  /** O_PATH fd of the writable layer of a layered root, sent by init once set up (commit, diff). */
  private upperFd: number | undefined;
  private readonly forwardOom = (kills: number) => this.emit('oom', kills);
  private oomForwarding: CGroup | undefined;

  /** Validates every option; throws IsolateError ERR_INVALID_OPTION. Creates nothing. */
  constructor(options: ContainerOptions = {}) {
    super();
    this.config = resolveConfig(options);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** created → running (⇄ paused) → stopped → destroyed. */
  get state(): ContainerState {
    return this.currentState;
  }

  /** The namespaces this container gets. */
  get namespaces(): Namespace {
    return this.config.namespaces;
  }

  /** Its cgroup, if it has one. */
  get cgroup(): CGroup | undefined {
    return this.config.cgroup;
  }

  private needCgroup(what: string): CGroup {
    const cg = this.config.cgroup;
    if (!cg) throw new IsolateError('ERR_STATE', `${what} needs a cgroup: give the container the \`cgroup\` option ({} is enough)`, { option: 'cgroup' });
    return cg;
  }

  /**
   * What the container's cgroup has used: live while it runs, the final
   * figures once it has stopped.
   */
  stats(): CGroupStats {
    const cg = this.needCgroup('stats()');
    if ((this.currentState === 'running' || this.currentState === 'paused') && cg.created) return cg.stats();
    if (this.cgroupFinal) return structuredClone(this.cgroupFinal.stats());
    throw new IsolateError('ERR_STATE', `No stats: the container is ${this.currentState} and never ran`);
  }

  /** Changes cgroup limits (only the fields given), live while it runs. */
  update(limits: CGroupLimits): void {
    if (this.currentState === 'stopped' || this.currentState === 'destroyed') {
      throw new IsolateError('ERR_STATE', `Cannot update a container that is ${this.currentState}`);
    }
    this.needCgroup('update()').update(limits);
  }

  /** Freezes every process inside (cgroup freezer); resolves once all are frozen. */
  async pause(): Promise<void> {
    const cg = this.needCgroup('pause()');
    if (this.currentState === 'paused') return;
    if (this.currentState !== 'running') throw new IsolateError('ERR_STATE', `Cannot pause a container that is ${this.currentState}`);
    // The freeze is asked for now and completes later: a kill meanwhile must
    // thaw it (thawForKill), or it would signal processes that cannot die.
    this.pausing++;
    try {
      await cg.freeze();
    } catch (err) {
      if (this.killedByUs || this.currentState !== 'running') throw new IsolateError('ERR_STATE', 'pause(): the container was killed, stopped or destroyed meanwhile', { cause: err });
      throw err;
    } finally {
      this.pausing--;
    }
    if (this.currentState === 'running') this.currentState = 'paused';
  }

  /** Lets a paused container run again. */
  resume(): void {
    const cg = this.needCgroup('resume()');
    if (this.currentState !== 'paused') return;
    cg.thaw();
    this.currentState = 'running';
  }

  /** Relays the group's 'oom' (which arms its notification) while we run. */
  private forwardOomFrom(cg: CGroup): void {
    if (this.oomForwarding) return;
    this.oomForwarding = cg;
    cg.on('oom', this.forwardOom);
  }

  // 'oom' is relayed from the cgroup only once someone listens (see CGroup#on).
  override on<T extends EventEmitter.EventNames<ContainerEvents>>(event: T, fn: EventEmitter.EventListener<ContainerEvents, T>, context?: unknown): this {
    super.on(event, fn, context);
    if (event === 'oom') this.armOom();
    return this;
  }

  override addListener<T extends EventEmitter.EventNames<ContainerEvents>>(event: T, fn: EventEmitter.EventListener<ContainerEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  override once<T extends EventEmitter.EventNames<ContainerEvents>>(event: T, fn: EventEmitter.EventListener<ContainerEvents, T>, context?: unknown): this {
    super.once(event, fn, context);
    if (event === 'oom') this.armOom();
    return this;
  }

  private armOom(): void {
    const cg = this.config.cgroup;
    if (cg?.created && (this.currentState === 'running' || this.currentState === 'paused')) this.forwardOomFrom(cg);
  }

  /**
   * A paused container cannot act on a signal (v1 frozen tasks do not even
   * die): thaw it. Groups a payload made below its own and froze itself
   * (v2, uid 0 with `seccomp: 'unconfined'`; init moved in with the rest)
   * are thawed too: frozen, init could not carry out a kill, and a run's
   * timeout never came.
   */
  private thawForKill(): void {
    const cg = this.config.cgroup;
    if (cg?.created && this.cgroupOwned) cg._thawBelow();
    else if (cg?.created) cg._evictHold(); // a caller's group: only the hold, which must hold nothing anyway
    if (this.currentState !== 'paused' && this.pausing === 0) return;
    try {
      cg?.thaw(); // (a pause() in progress then gives up)
    } catch {
      /* already gone */
    }
    if (this.currentState === 'paused') this.currentState = 'running';
  }

  /** Starts the container with no process in it yet. */
  start(): Promise<void> {
    if (this.currentState !== 'created') {
      return Promise.reject(new IsolateError('ERR_STATE', `Cannot start a container that is ${this.currentState}`));
    }
    const ready = new Promise<void>((resolve, reject) => this.startWaiters.push({ resolve, reject }));
    try {
      this.launch(undefined, [-2, -2, -2]);
    } catch (err) {
      this.startWaiters = [];
      return Promise.reject(err);
    }
    // A failed start settles once the container has stopped, so `state` is true then.
    return ready.catch(async (err) => {
      await this.exited;
      throw err;
    });
  }

  /**
   * Starts `command` inside. On a new container it becomes the main process;
   * on a running one it joins the others. Throws IsolateError for bad input.
   */
  spawn(command: readonly string[], options: SpawnOptions = {}): ContainerProcess {
    if (this.currentState !== 'created' && this.currentState !== 'running') {
      throw new IsolateError('ERR_STATE', `Cannot spawn in a container that is ${this.currentState}`);
    }
    if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
    checkKeys('spawn', options, [...PROCESS_KEYS, 'stdio']);
    const spec = this.processSpec(command, options);
    const stdio = stdioSpec(options.stdio);
    const id = this.nextId++;
    if (this.currentState === 'created') {
      const fds = this.launch({ id, spec }, stdio);
      return this.processes.get(id)?.proc ?? this.track(id, spec.argv, fds, this.containerSteps);
    }
    const b = new PlanBuilder();
    planProcess(b, id, spec, ownPipes(stdio));
    let fds: NativeStdio;
    try {
      fds = this.handle!.spawnProcess(id, b.build(), stdio);
    } catch (err) {
      throw fromSystemError('ERR_SETUP_FAILED', `Cannot start \`${spec.argv[0]}\` in the container`, err);
    }
    return this.track(id, spec.argv, fds, b.steps);
  }

  /** spawn() into a running container (like `docker exec`). */
  exec(command: readonly string[], options: SpawnOptions = {}): ContainerProcess {
    if (this.currentState !== 'running') throw new IsolateError('ERR_STATE', `Cannot exec in a container that is ${this.currentState}`);
    return this.spawn(command, options);
  }

  /**
   * Runs `command` to its end and collects its output. Resolves with a
   * RunResult (status 'error' when the command could not start); rejects on
   * bad input, on ERR_ABORTED, or when the container cannot start at all.
   */
  run(command: readonly string[], options: RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
  run(command: readonly string[], options?: RunOptions): Promise<RunResult<string>>;
  async run(command: readonly string[], options: RunOptions = {}): Promise<RunResult<string | Buffer>> {
    if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
    checkKeys('run', options, [...PROCESS_KEYS, ...RUN_LIMIT_KEYS]);
    const limits = resolveLimits(options);
    if (limits.cpuTime !== undefined && !this.config.cgroup) {
      throw new IsolateError('ERR_INVALID_OPTION', '`cpuTime` needs a cgroup: give the container the `cgroup` option ({} is enough)', { option: 'cpuTime' });
    }
    if (limits.signal?.aborted) {
      throw new IsolateError('ERR_ABORTED', `Run of \`${command.join(' ')}\` was aborted before it started`, { cause: limits.signal.reason });
    }
    const { env, cwd, user } = options;
    const isMain = this.currentState === 'created';
    const proc = this.spawn(command, { env, cwd, user, stdio: [limits.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    // A group of the caller's may have used CPU and seen OOM kills before this command.
    const shared = isMain && !this.cgroupOwned && this.config.cgroup?.created ? this.config.cgroup : undefined;
    const oomBase = shared ? shared._oomKills() : 0;
    const cpuBase = shared ? shared._cpuUsageUsec() : 0;
    const result = collect(proc, limits, () => {
      // In a group of its own the sandbox's figures are the group's: it is
      // killed at once, every process from here (kill() thaws it too).
      // Left to init, a payload with many runnable processes kept it from
      // running for a second, twice (its tree walk, then its exit), all of
      // them spinning meanwhile: a cpuTime of 2 s ended at 5.8 s of CPU, a
      // timeout settled 1.6 s after it passed.
      if (isMain && this.cgroupOwned && this.config.cgroup?.created) {
        this.kill('SIGKILL');
        return;
      }
      if (isMain) {
        // Otherwise init kills the command's tree and reaps it, which
        // reports its CPU and memory (killing init itself would lose them),
        // then exits, and the kernel ends everything else in the sandbox.
        // Should init not be done within a second, it goes too. In its own
        // pid namespace every other process is killed from here first, so
        // that a payload's many runnable processes, whose CPU share init
        // would wait in, neither run on meanwhile nor hold init up.
        if (this.config.namespaces.has('pid')) this.handle?.killNamespace(true);
        this.thawForKill();
        proc.killTree('SIGKILL');
        const hard = setTimeout(() => this.kill('SIGKILL'), 1000);
        proc.once('close', () => clearTimeout(hard));
        return;
      }
      // In a shared container only what this command started can go. A
      // process it orphaned before the kill may still hold our pipes:
      // collect() stops reading them at the timeout, or once the container
      // has ended.
      // In its own pid namespace the tree is stopped and killed from here
      // first, as init would (init, among a payload's many runnable
      // processes, could wait its turn for seconds); init's walk then finds
      // what is left, and reaps the command.
      if (this.config.namespaces.has('pid') && proc.pid !== undefined) this.handle?.killTree(proc.pid);
      this.thawForKill();
      proc.killTree('SIGKILL');
      if (proc._ended) return;
      // init carries out the kill and reports the exit. When that has not
      // come a second later, init cannot act: a payload froze it (a group
      // it made below its own and froze again as soon as it was thawed).
      // Then the run cannot end by itself, and the container goes, as a
      // main command's does when init is not done within a second. (A
      // leftover process that stops the child init is starting no longer
      // holds init: it waits for no exec while other processes are there.)
      const hard = setTimeout(() => {
        this.killedPending.add(proc.id);
        this.kill('SIGKILL');
      }, 1000);
      proc.once('exit', () => clearTimeout(hard));
      proc.once('error', () => clearTimeout(hard));
    }, this._runMeter(isMain && this.cgroupOwned), isMain ? undefined : this.exited);
    // A main process takes its container with it: settle once it has
    // stopped, so `state` is true when the result is seen, and the
    // cgroup's figures (every process in the sandbox) are in.
    if (isMain) {
      const r = await result.finally(() => this.exited);
      const f = this.cgroupFinal;
      return f ? withCgroupFigures(r, { cpuUsageUsec: f.cpuUsageUsec - cpuBase, memoryPeak: f.memoryPeak, oomKills: f.oomKills - oomBase }) : r;
    }
    return result;
  }

  /**
   * @internal The cgroup's view for run limits (one file read per look; 0
   * once the group is gone, never a throw), if there is a started cgroup.
   * The CLI's streaming mode uses it too. `main`: for a main command in a
   * group the container made, whose OOM kills come from the final figures.
   */
  _runMeter(main = false): RunMeter | undefined {
    const cg = this.config.cgroup;
    if (!cg || !cg.created) return undefined;
    // A main command in a group of its own: its OOM kills are the group's
    // final figures (withCgroupFigures), no reads of memory.oom_control meanwhile.
    const oomKills = main ? () => 0 : () => cg._oomKills();
    // The sandbox cannot spend CPU faster than this many CPUs: the host's
    // online ones (not this process's affinity or cpuset: the group is not
    // under ours, and a payload may widen its own affinity), the quota, the
    // pinned ones.
    const parallelism = () => {
      const l = cg.limits;
      let n = hostTopology().cpus.length;
      if (l.cpu?.max && l.cpu.max.quotaUs !== null) n = Math.min(n, l.cpu.max.quotaUs / l.cpu.max.periodUs);
      if (l.cpuset?.cpus) n = Math.min(n, parseCpuList('cpuset.cpus', l.cpuset.cpus).length);
      return n;
    };
    return { cpuUsageUsec: () => cg._cpuUsageUsec(), oomKills, parallelism };
  }

  /**
   * Signals every process in the container (default SIGKILL, which ends the
   * container at once). Returns false when it is not running.
   */
  kill(signal: NodeJS.Signals | number = 'SIGKILL'): boolean {
    const n = checkSignal(signal);
    if (!this.handle || (this.currentState !== 'running' && this.currentState !== 'paused')) return false;
    this.killedByUs = true;
    try {
      if (n === 9) return this.killAll();
      return this.handle.signalProcess(CONTAINER_ID, n, false) === 0;
    } finally {
      this.thawForKill();
    }
  }

  /**
   * SIGKILL to everything inside. A group of the container's own kills
   * every process, wherever it went, from here. In its own pid namespace,
   * init's death takes every process along too, but only once init runs
   * again to carry it out (the kernel does it in init's exit): among a
   * payload's thousand runnable processes (init one task among them in
   * the group's CPU share), that took a second, all of them spinning
   * meanwhile, so the group's kill is made from here too, right after
   * init's SIGKILL (init first, so that it cannot exit on its own first:
   * below); without a group of its own
   * (a caller's shared one, or none) every process of the namespace is
   * killed from here instead, found by its namespace. Without a pid namespace
   * init's death takes nothing along: without a group of its own, init,
   * told by SIG_END, kills every process group it started and then exits
   * (the payload's parent-death signal is for init's death by other
   * means), or, when it has not within a second (a payload stopped it), is
   * killed.
   */
  private killAll(): boolean {
    const h = this.handle!;
    const cg = this.config.cgroup;
    // Only a group of its own: one the caller shares holds other
    // containers (and whatever addProcess() put there) too.
    const own = cg?.created === true && this.cgroupOwned;
    if (own) {
      // init first: one that saw the others die before its own SIGKILL came
      // would exit on its own, with their status (a stop()'s SIGTERM: 143),
      // where a kill must read as SIGKILL. The group's kill then does not
      // need init to run (killNamespace does the same).
      const killed = h.signal(9) === 0;
      try {
        cg.kill(9);
      } catch {
        /* removed meanwhile: init's death took the rest */
      }
      return killed;
    }
    if (this.config.namespaces.has('pid')) {
      h.killNamespace(false);
    } else if (h.signal(SIG_END) === 0) {
      // A signal, not a request: one could wait behind hundreds of spawns.
      const hard = setTimeout(() => this.handle?.signal(9), 1000);
      void this.exited.then(() => clearTimeout(hard));
      return true;
    }
    return h.signal(9) === 0;
  }

  /** SIGTERM to the processes, SIGKILL after `timeout` ms; resolves once stopped. @default timeout 10000 */
  async stop(options: { timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout ?? 10_000;
    if (!Number.isFinite(timeout) || timeout < 0) throw invalidOption('timeout', 'a non-negative number of milliseconds', timeout);
    // A longer one would fire after 1 ms: SIGKILL at once instead of a grace of weeks.
    if (timeout > TIMER_MAX_MS) throw invalidOption('timeout', TIMER_MAX_TEXT, timeout);
    if (!this.handle || this.currentState === 'stopped' || this.currentState === 'destroyed') return;
    this.killedByUs = true;
    this.handle.signal(15);
    this.thawForKill();
    const timer = setTimeout(() => {
      if (this.handle) this.killAll();
    }, timeout);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills everything inside and releases every resource. Idempotent. */
  async destroy(): Promise<void> {
    await this.end();
    await this.cgroupGone;
  }

  /** destroy() but for the wait for its cgroup's removal (under way once this resolves). */
  private async end(): Promise<void> {
    if (this.currentState === 'destroyed') return;
    if (this.handle && this.currentState !== 'stopped') {
      this.killedByUs = true;
      this.killAll();
      this.thawForKill();
      await this.exited;
    }
    this.currentState = 'destroyed';
    this.releaseUpper();
    this.releaseLayers?.(); // held after the end for diff() and commit()
    this.releaseLayers = undefined;
  }

  private releaseUpper(): void {
    if (this.upperFd === undefined) return;
    native().closeFds([this.upperFd]); // the addon's fd: not fs's (a worker tracks those)
    this.upperFd = undefined;
  }

  /**
   * The writable layer of a layered root, as a path this process can read
   * (through its fd: the tmpfs is on no path of the host), while the
   * container runs and after it stopped, until destroy().
   */
  private upperPath(what: string): string {
    if (this.config.rootfs.kind !== 'overlay') {
      throw new IsolateError('ERR_STATE', `${what} needs a layered root (rootfs: LayerStack.fromDirectories() or an image); this container has the host root`, {
        option: 'rootfs',
      });
    }
    if (this.upperFd === undefined) {
      const why = this.currentState === 'destroyed' ? 'was destroyed' : this.currentState === 'created' ? 'has not started' : 'never got set up';
      throw new IsolateError('ERR_STATE', `${what}: the container ${why}, so it has no writable layer`);
    }
    return `/proc/self/fd/${this.upperFd}`;
  }

  /**
   * What the container changed in its root, like `docker diff`: added (A),
   * changed (C) and deleted (D) paths, sorted. Mounts (/proc, /tmp, …) are
   * not part of the root and do not show. Synchronous, so bounded: past
   * `maxEntries` entries of the writable layer (default the import's,
   * DEFAULT_EXTRACT_LIMITS.maxEntries) it stops with ERR_BAD_IMAGE.
   */
  diff(options: { maxEntries?: number } = {}): Change[] {
    const upper = this.upperPath('diff()');
    if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
    checkKeys('diff', options, ['maxEntries']);
    const max = options.maxEntries;
    if (max !== undefined && (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 0)) throw invalidOption('maxEntries', 'a non-negative integer', max);
    return diffUpper(upper, [...this.config.rootfs.layers].reverse(), this.setupMountpoints(), max);
  }

  /**
   * The writable layer as a new Layer in `store` (Docker's commit): what the
   * container added, changed and deleted (as OCI whiteouts in the layer's
   * tar), without the mount points setup made. Works while it runs (a
   * paused container gives a consistent layer) and after it stopped, until
   * destroy(). Stack it on the image's layers with store.createImage().
   * `limits` (the import's, DEFAULT_EXTRACT_LIMITS) are checked as the
   * layer is packed, before any data is written: a payload's sparse file
   * counts at its full length, which the tar would hold.
   */
  async commit(options: { store?: ImageStore; limits?: Partial<ExtractLimits> } = {}): Promise<Layer> {
    const upper = this.upperPath('commit()');
    if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
    checkKeys('commit', options, ['store', 'limits']);
    const store = options.store ?? defaultStore();
    const lowers = [...this.config.rootfs.layers].reverse();
    const mountpoints = this.setupMountpoints();
    return store.layerFromDirectory(upper, {
      exclude: (rel, st) => isSetupMountpoint(upper, lowers, rel, st, mountpoints),
      ...(options.limits !== undefined ? { limits: options.limits } : {}),
    });
  }

  /** Where setup mounts something in the root: what init may have made a mount point for. */
  private setupMountpoints(): Set<string> {
    return new Set([...KERNEL_MOUNTPOINTS, ...this.config.mounts.map((m) => m.target)]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  /** A running container keeps Node's event loop alive unless unref()'d. */
  unref(): this {
    this.refed = false;
    this.handle?.unref();
    return this;
  }

  ref(): this {
    this.refed = true;
    this.handle?.ref();
    return this;
  }

  /** Creates a container, runs `command` in it, destroys it. The one-liner. */
  static run(command: readonly string[], options: ContainerOptions & RunOptions & { encoding: 'buffer' }): Promise<RunResult<Buffer>>;
  static run(command: readonly string[], options?: ContainerOptions & RunOptions): Promise<RunResult<string>>;
  static async run(command: readonly string[], options: ContainerOptions & RunOptions = {}): Promise<RunResult<string | Buffer>> {
    if (typeof options !== 'object' || options === null) throw optionsNotObject(options);
    const runOptions: Record<string, unknown> = {};
    const containerOptions: Record<string, unknown> = {};
    checkKeys('Container.run', options, [...CONTAINER_KEYS, ...RUN_LIMIT_KEYS]);
    for (const [k, v] of Object.entries(options)) {
      if ((RUN_LIMIT_KEYS as readonly string[]).includes(k)) runOptions[k] = v;
      else containerOptions[k] = v;
    }
    // cpuTime is measured on a cgroup: an accounting-only one will do.
    if (runOptions.cpuTime !== undefined && containerOptions.cgroup === undefined) containerOptions.cgroup = {};
    const c = new Container(containerOptions as ContainerOptions);
    try {
      return await c.run(command, runOptions as unknown as RunOptions & { encoding: 'buffer' });
    } finally {
      // Not waiting for its cgroup's removal when the next turn of the event
      // loop makes it (dropCgroupSoon); an error there is the process's
      // warning, as destroy()'s would be with no 'error' listener.
      await c.end();
      if (!c.groupRemovalDeferred) await c.cgroupGone;
    }
  }

  private processSpec(command: readonly string[], o: ProcessOptions): ProcessSpec {
    // An image's Entrypoint and Cmd make the main command, as `docker run`'s;
    // later commands (exec) run as given, as `docker exec`'s.
    const img = this.config.image;
    const fromImage = img && this.currentState === 'created' && Array.isArray(command) ? imageCommand(img, command) : undefined;
    if (fromImage?.length === 0) {
      throw new IsolateError('ERR_INVALID_OPTION', 'No command: the image has neither Entrypoint nor Cmd, so give one', { option: 'command' });
    }
    const argv = checkCommand(fromImage ?? command);
    const env = Object.entries(mergeEnv(this.config.env, o.env)).map(([k, v]) => `${k}=${v}`);
    checkExecSize(argv, env, this.config.rlimits);
    return {
      argv,
      env,
      cwd: o.cwd === undefined ? this.config.cwd : checkGivenCwd(o.cwd, this.config.rootfs, this.config.mounts, this.currentState === 'created', this.config.namespaces.has('mnt')),
      user: o.user === undefined ? this.config.user : checkUser(o.user),
      capabilities: this.config.capabilities,
      noNewPrivileges: this.config.noNewPrivileges,
      rlimits: this.config.rlimits,
      seccomp: this.config.seccompFilter,
    };
  }

  /** Compiles the container's plan (plus its main process) and clones init. */
  private launch(main: { id: number; spec: ProcessSpec } | undefined, stdio: NativeStdio): NativeStdio {
    const cfg = this.config;
    const cg = cfg.cgroup;
    if (cg?._ownedBy !== undefined && cg._ownedBy !== this) {
      throw new IsolateError('ERR_STATE', 'This CGroup belongs to another container (it made it); create() it yourself to share one group between containers', {
        option: 'cgroup',
      });
    }
    if (cg && !cg.created) {
      nativeForSpawn(); // an addon that cannot load must not leave a group behind
      cg.create(); // throws with nothing left behind
      cg._ownedBy = this;
      this.cgroupOwned = true;
    }
    if (!cfg.namespaces.has('pid')) warnNoReaper();
    // Its layers, held while it runs: an image store's gc() anywhere leaves them (layer-leases.ts).
    let releaseLayers: (() => void) | undefined;
    if (cfg.rootfs.kind === 'overlay') {
      try {
        releaseLayers = leaseLayers(cfg.rootfs.layers);
      } catch (err) {
        this.dropCgroup();
        throw err;
      }
    }
    let planned: ReturnType<Container['plan']>;
    try {
      planned = this.plan(main && { ...main, ownPipes: ownPipes(stdio) });
    } catch (err) {
      releaseLayers?.();
      this.dropCgroup();
      // Bad input is refused before this; what is left is the host's (EMFILE reading mountinfo, say).
      throw isIsolateError(err) ? err : fromSystemError('ERR_SETUP_FAILED', 'Cannot start the container', err);
    }
    const { b, plan, nsFlags } = planned;

    const nat = nativeForSpawn();
    let r: ReturnType<typeof nat.spawn>;
    try {
      r = nat.spawn(nsFlags, plan, stdio, this.onNative.bind(this), cg?._placementPaths());
    } catch (err) {
      releaseLayers?.();
      this.dropCgroup();
      throw spawnError(err, cfg.namespaces);
    }
    if (cg && this.listenerCount('oom') > 0) this.forwardOomFrom(cg);
    // A worker may end with the container running: its containers are
    // killed then (the addon's environment hook), and no JavaScript of its
    // own is left to remove their groups, so the addon does.
    // Kept current: a hierarchy joined later (v1: the freezer at pause(),
    // cpu, cpuset, … at update()) is one more directory to remove.
    if (!isMainThread && cg && this.cgroupOwned) {
      const handle = r.handle;
      handle.removeAtTeardown(cg.paths);
      cg._onDirsAdded = (paths) => handle.removeAtTeardown(paths);
    }
    this.handle = r.handle;
    this.pid = r.pid;
    this.releaseLayers = releaseLayers;
    this.currentState = 'running';
    if (!this.refed) r.handle.unref();
    if (main) {
      this.mainId = main.id;
      this.track(main.id, main.spec.argv, r.stdio, b.steps);
    }
    return r.stdio;
  }

  /** The container's plan (plus its main process), and the clone flags. */
  private plan(main: { id: number; spec: ProcessSpec; ownPipes: number } | undefined): { b: PlanBuilder; plan: Buffer; nsFlags: number } {
    const cfg = this.config;
    const cg = cfg.cgroup;
    let nsFlags = cfg.namespaces.cloneFlags();
    const b = new PlanBuilder();
    const cgroupns = cg !== undefined && cfg.namespaces.has('cgroup');
    if (cgroupns) {
      // The cgroup namespace is rooted where its creator is: init makes it
      // itself, once in its group (so /proc/self/cgroup inside reads "/").
      nsFlags &= ~CLONE_NEWCGROUP;
      b.add(Op.Unshare, { description: 'unshare the cgroup namespace' }, { num: [CLONE_NEWCGROUP] });
    }
    if (cfg.namespaces.has('pid')) b.flags |= PLAN_F_PIDNS;
    // Before the filesystem steps: /proc/sys/net is still the host's /proc
    // (any procfs shows the reader's network namespace), writable by init.
    if (cfg.namespaces.has('net')) b.add(Op.Loopback, { description: 'prepare the network namespace (TCP receive buffer default, lo up)' });
    // ISOLATE_KIT_TRACE=1: init reports each setup step's duration on the container's stderr.
    if (process.env.ISOLATE_KIT_TRACE === '1') b.flags |= PLAN_F_TRACE;
    if (cfg.namespaces.has('mnt')) {
      b.flags |= PLAN_F_MNTNS;
      planFilesystem(b, {
        rootfs: cfg.rootfs,
        mounts: cfg.mounts,
        staging: stagingDir(),
        ownNetwork: cfg.namespaces.has('net'),
        readonlyRootfs: cfg.readonlyRootfs,
        beforePivot: (_b, root) => {
          if (cgroupns && cfg.namespaces.has('net')) planCgroupfs(b, cg!._insideView(), `${root}/sys/fs/cgroup`);
        },
      });
    }
    if (cfg.hostname !== undefined) b.add(Op.Hostname, { description: `set hostname ${cfg.hostname}` }, { str: [cfg.hostname] });
    if (cfg.namespaces.has('time')) b.add(Op.Unshare, { description: 'unshare the time namespace' }, { num: [0x80] });
    // An empty session keyring of the container's own, not the caller's,
    // whose keys every process inside would otherwise hold ("possess"),
    // whatever its uid. The filter below keeps processes from the keyring
    // calls, but not every way the kernel uses a process's keyrings (since
    // 6.2, AF_ALG's ALG_SET_KEY_BY_KEY_SERIAL takes any key they reach),
    // and 'unconfined' lifts it. ~8 µs (csrc/init/no_userns.c).
    b.add(Op.SessionKeyring, { description: SESSION_KEYRING });
    // Before the filter, which would see init's landlock_* calls.
    const landlock = landlockMode(cfg.seccomp, cfg.capabilities);
    if (landlock !== undefined) b.add(Op.Landlock, { description: LANDLOCK_STEP[landlock] }, { num: [landlock] });
    // Last: init's own steps are done; every process it starts inherits the filter.
    if (cfg.seccomp !== 'unconfined') {
      // init answers for NETLINK_ROUTE sockets (a count of its own, their
      // buffers), whichever network namespace: csrc/init/netlink_guard.c.
      // Sockets that outlived their container (passed out to another) still
      // count, and while they are as many as four containers may hold, new
      // containers get none (csrc/netlink_ledger.h).
      const nat = nativeForSpawn();
      const orphans = nat.netlinkOrphans();
      const refuse = orphans >= nat.NETLINK_ORPHANS_MAX;
      warnNetlinkRefused(refuse, orphans);
      const description = refuse
        ? `deny new user namespaces, keyrings, leases, netlink (no NETLINK_ROUTE socket: ${orphans} made in ended containers are still open elsewhere), io_uring, mq_notify, perf events, vsock, MPTCP, secret memory (a seccomp filter; seccomp: 'unconfined' lifts it)`
        : DENY_USERNS;
      b.add(Op.DenyUserns, { description }, { num: [refuse ? 1 : 0] });
    }
    const containerOps = b.length;
    if (main) planProcess(b, main.id, main.spec, main.ownPipes);
    const plan = b.build();
    this.containerSteps = b.steps.slice(0, containerOps);
    return { b, plan, nsFlags };
  }

  /**
   * Removes a cgroup we made once the container has ended, in the next turn
   * of the event loop: the run's result (its figures are read already)
   * need not wait for the group's `rmdir`s and the closing of its files,
   * ~0.14 ms here, and `Container.run` does not (destroy() does). Only with
   * a pid namespace, on the main thread (onInitExit says why). Done on the
   * event loop, not a thread: in a program that starts the next container
   * at once, that turn comes after the next clone, while init sets up and
   * the event loop has nothing else to do (on libuv's threads the same work
   * had met the next start and made it slower by as much).
   */
  private dropCgroupSoon(): void {
    if (!this.config.cgroup || !this.cgroupOwned) return;
    this.groupRemovalDeferred = true;
    this.cgroupGone = new Promise<void>((resolve) =>
      setImmediate(() => resolve(this.dropCgroup())),
    );
  }

  /** Removes a cgroup we made (the container failed to start, or ended): starts now. Returns cgroupGone. */
  private dropCgroup(): Promise<void> {
    const cg = this.config.cgroup;
    // (Never this.cgroupGone here: dropCgroupSoon resolves its own promise with this one.)
    if (!cg || !this.cgroupOwned) return Promise.resolve();
    this.cgroupOwned = false;
    cg._onDirsAdded = undefined;
    const gone = cg.destroy();
    cg._ownedBy = undefined;
    this.cgroupGone = gone.catch((err: unknown) => {
      // Processes that would not die: say so, once, where someone listens,
      // else as a process warning (a group left behind must not go unsaid;
      // gc() tries again once this process has ended).
      if (this.listenerCount('error') > 0) this.emit('error', err as IsolateError);
      else process.emitWarning((err as Error).message, { code: 'ISOLATE_KIT_CGROUP_LEFT' });
    });
    return this.cgroupGone;
  }

  private track(id: number, argv: readonly string[], fds: readonly number[], steps: readonly PlanStep[]): ContainerProcess {
    const proc = new ContainerProcess(id, argv, fds, (sig, tree) => {
      if (!this.handle) return false;
      // Through init, which signals it by its pid: any signal, and init
      // reaps it and reports its usage (for the main process, init then
      // exits and ends the container).
      return this.handle.signalProcess(id, sig, tree) === 0;
    });
    this.processes.set(id, { proc, steps });
    return proc;
  }

  private onNative(
    event: NativeEvent,
    id: number,
    a: number,
    b: number,
    c: number,
    utimeUs: number,
    stimeUs: number,
    maxrssKb: number,
    atMs: number,
  ): void {
    const now = atMs || monotonicMs();
    const entry = this.processes.get(id);
    switch (event) {
      case NativeEvent.Ready:
        // After a failed setup (a lost layer) the container is being killed: nothing started.
        if (this.setupError) break;
        if (id === CONTAINER_ID) {
          this.emit('start');
          this.settleStart();
        } else if (entry && !entry.proc.spawned && !entry.proc._ended) {
          if (id === this.mainId) {
            this.emit('start');
            this.settleStart();
          }
          entry.proc._ready(a, now);
        }
        break;
      case NativeEvent.Fail:
        if (id === CONTAINER_ID) {
          this.failSetup(stepError(this.containerSteps, undefined, a, b, c));
        } else if (entry && !entry.proc.spawned && !entry.proc._ended) {
          const err =
            b === SC_FORK && c === ECANCELED
              ? new IsolateError('ERR_STATE', `Cannot start \`${entry.proc.command[0]}\`: the container is stopping`)
              : this.withPidsHint(stepError(entry.steps, entry.proc.command, a, b, c));
          if (id === this.mainId) this.settleStart(err);
          entry.proc._fail(err);
        }
        break;
      case NativeEvent.Exit:
        if (entry) {
          const [code, sig] = decodeWaitStatus(a);
          if (id === this.mainId) this.mainExit = [code, sig];
          entry.proc._exit(code, sig, usage(utimeUs, stimeUs, maxrssKb), now);
          this.processes.delete(id);
        }
        break;
      case NativeEvent.Hold:
        // The addon passes the first HOLD only, with the fd that came (a
        // directory) or -1, never a number of init's.
        if (this.config.rootfs.kind !== 'overlay' || this.upperFd !== undefined) {
          if (a >= 0) native().closeFds([a]);
        } else if (a >= 0) {
          this.upperFd = a;
        } else {
          // Without its fd the container has no writable layer we can
          // reach: diff() and commit() would have nothing (or another
          // file) to read. It does not start.
          this.failSetup(b === 1 ? layerLost() : new IsolateError('ERR_SETUP_FAILED', "Cannot start the container: init's report of its writable layer came without the layer (no directory fd)"));
          this.handle?.signal(9);
        }
        break;
      case NativeEvent.InitExit:
        this.onInitExit(a, b, now);
        break;
    }
  }

  /**
   * Why a process never started, when init ended first: an OOM kill in the
   * group during setup is named (a limit too small for init and the
   * command: `memory: 4096` said only that the container ended).
   */
  private endedBeforeStart(): IsolateError {
    const cg = this.config.cgroup;
    let kills = 0;
    try {
      if (cg?.created) kills = cg._oomKills();
    } catch {
      /* removed under us */
    }
    if (kills === 0) return new IsolateError('ERR_STATE', 'The container ended before the process started');
    const max = cg?.limits.memory?.max;
    return new IsolateError(
      'ERR_SETUP_FAILED',
      `The container ended before the process started: the OOM killer ended a process in its cgroup${typeof max === 'number' ? ` (a memory limit of ${max} bytes is too small for the container's setup and the command)` : ''}`,
      { option: 'memory' },
    );
  }

  /** A fork refused under a pids limit (EAGAIN): said so, with the limit. */
  private withPidsHint(err: IsolateError): IsolateError {
    const pids = this.config.cgroup?.limits.pids;
    if (err.errnoCode !== 'EAGAIN' || (err.syscall !== 'clone' && err.syscall !== 'fork') || typeof pids !== 'number') return err;
    err.message += `; the cgroup's pids limit (${pids}) leaves no room for another process (init counts as one)`;
    return err;
  }

  private onInitExit(siCode: number, siStatus: number, now: number): void {
    // The container's status is its main process's when that one was seen
    // exiting; otherwise init's (CLD_EXITED = 1: an exit code, else a signal).
    const [exitCode, signal] = this.mainExit ?? (siCode === 1 ? [siStatus, null] : [null, siStatus]);
    for (const [id, { proc }] of this.processes) {
      if (proc.spawned) {
        // No exit record: the container was killed (or its main process ended) first.
        // Killed along with init (kill(), destroy()): no figures of its own
        // came back, and init's would not be the payload's.
        if (id === this.mainId) proc._exit(exitCode, signal, undefined, now);
        else proc._exit(null, 9, undefined, now);
      } else if ((id === this.mainId || this.killedPending.has(id)) && this.killedByUs && !this.setupError) {
        // Killed by the caller before init's report of its start came (its
        // output can outrun that report; an exec'd run's limit killed the
        // container while init was held in that start): to the caller it
        // was killed.
        proc._exit(null, 9, undefined, now);
      } else {
        proc._fail(this.setupError ?? this.endedBeforeStart());
      }
    }
    this.processes.clear();
    this.killedPending.clear();
    const cg = this.config.cgroup;
    if (cg?.created) {
      // Read before the group goes: RunResult and stats() after the end use them.
      try {
        this.cgroupFinal = this.cgroupOwned ? cg._finalFigures() : figuresOf(cg.stats());
      } catch {
        /* removed under us */
      }
      cg.off('oom', this.forwardOom);
      this.oomForwarding = undefined;
      // With a pid namespace every process in it is gone once init's end is
      // seen (the kernel waits for them), so nothing can run on while the
      // group waits for its removal. Without one, a process that left
      // init's care may still run in the group: the removal kills it, and
      // starts now, and Container.run waits for it as before. So does one
      // addProcess() put in, which may be outside the pid namespace. And so
      // does a worker thread's: a worker may be terminated as soon as it has
      // the result, and then no JavaScript of its own would remove the group
      // (it would be left for gc()).
      if (this.config.namespaces.has('pid') && !cg._hadOutsiders && isMainThread) this.dropCgroupSoon();
      else this.dropCgroup();
    }
    // Its overlay went with its mount namespace (with a pid namespace, every
    // process in it is gone; without one, the group's removal has just
    // killed those left). But diff() and commit() still read the layers
    // below the writable one until destroy(): held until then.
    if (this.upperFd === undefined) {
      this.releaseLayers?.();
      this.releaseLayers = undefined;
    }
    // Only someone still waiting for the start gets an error (made only
    // then: an IsolateError captures a stack, ~20 µs at every end).
    if (this.startWaiters.length > 0) {
      this.settleStart(
        this.setupError ??
          (this.killedByUs
            ? new IsolateError('ERR_STATE', 'The container was killed or destroyed before it was set up')
            : new IsolateError('ERR_SETUP_FAILED', 'The container ended during setup')),
      );
    }
    this.handle = undefined;
    this.pid = undefined;
    if (this.currentState !== 'destroyed') this.currentState = 'stopped';
    this.emit('exit', exitCode, signal === null ? null : signalName(signal));
    this.resolveExited();
  }

  /** The container's setup failed: its start and main process fail with `err`, once init has ended. */
  private failSetup(err: IsolateError): void {
    this.setupError = err;
    this.emit('error', err);
    this.settleStart(err);
  }

  private settleStart(err?: IsolateError): void {
    const waiters = this.startWaiters;
    this.startWaiters = [];
    for (const w of waiters) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }
}

/**
 * A layered root's writable-layer fd that the kernel dropped on its way to
 * this process (its fd table was full when init sent it, so the message
 * came truncated): the start fails as every other step does for want of fds.
 */
function layerLost(): IsolateError {
  const err = Object.assign(new Error('too many open files'), { errno: 24, code: 'EMFILE', syscall: 'recvmsg' });
  return fromSystemError('ERR_SETUP_FAILED', "Cannot start the container: its writable layer's fd from init was dropped", err, { step: 'receive the writable layer' });
}

/** init's "kill everything and exit" signal (IK_SIG_END in csrc/ik_proto.h). */
const SIG_END = 40;
/** init's answer to a spawn that came once the container was stopping: fork, ECANCELED. */
const SC_FORK = 23;
const ECANCELED = 125;

/** The seccomp step's description, as it reads on nearly every start (a constant: the spawn path is hot). */
const DENY_USERNS =
  "deny new user namespaces, keyrings, leases, netlink but NETLINK_ROUTE (at most 16 sockets, default buffers), io_uring, mq_notify, perf events, vsock, MPTCP, secret memory (a seccomp filter; seccomp: 'unconfined' lifts it)";
const SESSION_KEYRING = "join an empty session keyring of its own (the caller's stays out of reach)";

let netlinkRefused = false;

/**
 * One process warning each time new containers start being refused netlink
 * sockets because sockets of ended containers are still open elsewhere
 * (csrc/netlink_ledger.h): the operator's sign that a payload passed its
 * sockets out, to another container or a host socket that holds them.
 */
function warnNetlinkRefused(refused: boolean, orphans: number): void {
  if (refused && !netlinkRefused) {
    process.emitWarning(
      `${orphans} netlink sockets made in containers that have ended are still open elsewhere (passed out through a Unix socket); new containers get no netlink socket until they close (docs/security.md)`,
      { code: 'ISOLATE_KIT_NETLINK_REFUSED' },
    );
  }
  netlinkRefused = refused;
}

let warnedNoReaper = false;

/**
 * Without a pid namespace, processes that outlive init go to the reaper of
 * Node's own pid namespace: where that is Node (PID 1, as under
 * `docker run` without --init), nothing reaps them. Said once.
 */
function warnNoReaper(): void {
  if (warnedNoReaper || process.pid !== 1) return;
  warnedNoReaper = true;
  process.emitWarning(
    "This Node process is PID 1 of its pid namespace and a container has no pid namespace of its own: its processes that outlive init become Node's, and stay zombies (Node reaps only its own children). Run Node under an init (docker run --init, tini), or keep 'pid' in namespaces (docs/api.md)",
    { code: 'ISOLATE_KIT_NO_REAPER' },
  );
}

/** A shared group's figures (it stays) in the shape of a group's final ones. */
function figuresOf(s: CGroupStats): FinalFigures {
  return { cpuUsageUsec: s.cpu.usageUsec, memoryPeak: s.memory.peak, oomKills: s.memory.oomKills, stats: () => s };
}

/** CLOCK_MONOTONIC in ms, the clock init stamps its records with. */
const CLONE_NEWCGROUP = 0x02000000;

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function usage(utimeUs: number, stimeUs: number, maxrssKb: number) {
  return {
    cpuTimeMs: (utimeUs + stimeUs) / 1000,
    userTimeMs: utimeUs / 1000,
    systemTimeMs: stimeUs / 1000,
    maxRssBytes: maxrssKb * 1024,
  };
}
