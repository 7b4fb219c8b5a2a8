/**
 * `npm run bench`: start latency of Container.run(['/bin/true']) next to
 * child_process.spawn, bubblewrap and crun, without and with a big heap,
 * one and two in flight, with and without a cgroup; cgroup operations
 * (stats, pause/resume, a group's mkdir+rmdir); and a long run for leaks.
 * Prints markdown tables; a full run also writes docs/benchmarks.md.
 *
 *   node .build/bench/run.js [--quick] [--long N] [--rounds N] [--seed N] [--out FILE] [--no-write]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { measureDensity, type DensityReport } from './density';
import { CGROUP_LIMITS, leftoverGroups, measureCgroupOps, pooledGroups, type CgroupOpsReport, type CgroupOpsSettings } from './cgroup-ops';
import { measureImageIo, overlayFixture, type ImageIoReport, type OverlayFixture } from './images';
import { ballastItems, dropBallast, fullGc, gcTotals, holdBallast, startGcLog, stopGcLog } from './ballast';
import { LONG_NODE_FLAGS, runLong, type LongReport } from './long';
import { documentMarkdown, summaryMarkdown, type BenchResult, type Machine, type Phase, type Settings } from './report';
import { newRows, runRounds } from './rounds';
import { mib, rng } from './stats';
import { traceSetup } from './trace';
import { Crun, bwrap, containerProbe, containerRun, dockerShapedProfile, plainSpawn, versionOf, which, type Variant } from './variants';

interface Args extends Settings {
  out: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const quick = argv.includes('--quick');
  const num = (flag: string, env: string, dflt: number): number => {
    const i = argv.indexOf(flag);
    const raw = i >= 0 ? argv[i + 1] : process.env[env];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} (or ${env}) wants a whole number, got ${JSON.stringify(raw)}`);
    return n;
  };
  const known = new Set(['--quick', '--long', '--rounds', '--seed', '--out', '--no-write']);
  argv.forEach((a, i) => {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`Unknown option ${a}; known: ${[...known].join(' ')}`);
    if (!a.startsWith('--') && !['--long', '--rounds', '--seed', '--out'].includes(argv[i - 1] ?? '')) throw new Error(`Unexpected argument ${a}`);
  });
  const outIdx = argv.indexOf('--out');
  const defaultDoc = resolve(__dirname, '..', '..', 'docs', 'benchmarks.md');
  let out: string | undefined = outIdx >= 0 ? resolve(argv[outIdx + 1] ?? '') : quick ? undefined : defaultDoc;
  if (argv.includes('--no-write')) out = undefined;
  const rounds = num('--rounds', 'BENCH_ROUNDS', quick ? 40 : 1000);
  return {
    quick,
    rounds,
    warmup: quick ? 5 : 50,
    blocks: Math.max(1, Math.min(rounds, quick ? 2 : 10)),
    blockWarmup: quick ? 2 : 10,
    long: num('--long', 'BENCH_LONG', quick ? 300 : 10_000),
    longWarmup: quick ? 100 : 1000,
    traceRuns: quick ? 20 : 200,
    cgroupStats: quick ? 200 : 2000,
    cgroupPause: quick ? 50 : 500,
    cgroupCreate: quick ? 100 : 1000,
    cgroupFirstPauses: quick ? 5 : 30,
    cgroupMoves: quick ? 20 : 200,
    cgroupBackToBack: quick ? 40 : 300,
    ballastMiB: 300,
    seed: num('--seed', 'BENCH_SEED', Date.now() % 1_000_000),
    out,
  };
}

function cgroupSettings(s: Settings): CgroupOpsSettings {
  return { statsIterations: s.cgroupStats, pauseIterations: s.cgroupPause, createIterations: s.cgroupCreate, firstPauses: s.cgroupFirstPauses, moves: s.cgroupMoves, backToBack: s.cgroupBackToBack };
}

function cgroupLayout(): string {
  try {
    const mounts = readFileSync('/proc/self/mounts', 'utf8');
    const v2 = / \/sys\/fs\/cgroup cgroup2 /.test(mounts);
    const v1 = / cgroup /.test(mounts);
    return v2 ? 'v2 (unified)' : v1 ? (/ cgroup2 /.test(mounts) ? 'v1 + v2 (hybrid)' : 'v1') : 'none mounted';
  } catch {
    return 'unknown';
  }
}

/** The commit measured, and whether lib/ or csrc/ have changes on top of it. */
function checkout(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: resolve(__dirname, '..', '..'), encoding: 'utf8', timeout: 5000 });
  const head = git('log', '-1', '--format=%h %s');
  if (head.status !== 0) return 'unknown (no git)';
  const dirty = git('status', '--porcelain', '--', 'lib', 'csrc').stdout.trim() !== '';
  return `${head.stdout.trim().replace(/\|/g, '\\|')}${dirty ? ' (+ uncommitted changes in lib/ or csrc/)' : ''}`;
}

function machine(): Machine {
  const tool = (name: string) => {
    const file = which(name);
    return file ? (versionOf(file) ?? `${file} (version unknown)`) : 'not installed';
  };
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    cgroups: cgroupLayout(),
    uid: process.getuid?.() ?? -1,
    bwrap: tool('bwrap'),
    crun: tool('crun'),
    commit: checkout(),
    loadStart: loadavg(),
    loadEnd: [],
  };
}

/** Container.run with a Docker-shaped seccomp profile on top of init's filter (skipped where none can be built). */
function profileRow(): Variant {
  const profile = dockerShapedProfile();
  const v = containerRun('container-profile', 'Container.run, seccomp: a Docker-shaped profile', profile ? { seccomp: profile } : {});
  if (!profile) v.unavailable = 'no x86_64 syscall list (asm/unistd_64.h) to build the profile from';
  return v;
}

function variants(crun: Crun, containerUnavailable: string | undefined, cgroupUnavailable: string | undefined, layers: OverlayFixture): Variant[] {
  const list: Variant[] = [
    plainSpawn(),
    containerRun('container', 'Container.run (default)', {}),
    containerRun('container-cg', 'Container.run, cgroup {}', { cgroup: {} }),
    containerRun('container-cg-limits', 'Container.run, cgroup {memory 64M, pids 64}', { cgroup: CGROUP_LIMITS }),
    bwrap(),
    crun.variant,
    containerRun('container-host-net', "Container.run, network: 'host'", { network: 'host' }),
    containerRun('container-unconfined', "Container.run, seccomp: 'unconfined'", { seccomp: 'unconfined' }),
    profileRow(),
    containerRun('container-host-net-cg-limits', "Container.run, network: 'host', cgroup {memory 64M, pids 64}", { network: 'host', cgroup: CGROUP_LIMITS }),
    containerRun('container-pid', "Container.run, namespaces: ['pid']", { namespaces: ['pid'] }),
    containerRun('container-none', 'Container.run, namespaces: []', { namespaces: [] }),
    plainSpawn(2),
    containerRun('container-c2', 'Container.run, 2 in flight', {}, 2),
  ];
  const overlay = containerRun('container-overlay3', 'Container.run, 3-layer overlay root', layers.stack ? { rootfs: layers.stack } : {});
  if (!layers.stack) overlay.unavailable = layers.unavailable;
  list.splice(4, 0, overlay);
  if (containerUnavailable !== undefined) {
    for (const v of list) if (v.key.startsWith('container')) v.unavailable = containerUnavailable;
  } else if (cgroupUnavailable !== undefined) {
    for (const v of list) if (v.key.includes('-cg')) v.unavailable = cgroupUnavailable;
  }
  return list;
}

interface Condition {
  phase: Phase;
  /** When its blocks ran, to attribute GC pauses. */
  windows: [number, number][];
}

function condition(name: string, list: readonly Variant[]): Condition {
  return {
    phase: { name, heapUsed: [Infinity, 0], rss: [Infinity, 0], seconds: 0, blocks: 0, gc: { count: 0, major: 0, ms: 0 }, rows: newRows(list) },
    windows: [],
  };
}

/** One block of rounds of a condition, appended to its rows. */
async function block(c: Condition, rounds: number, warmup: number, random: () => number): Promise<void> {
  fullGc();
  const mem = process.memoryUsage();
  const p = c.phase;
  p.heapUsed = [Math.min(p.heapUsed[0], mem.heapUsed), Math.max(p.heapUsed[1], mem.heapUsed)];
  p.rss = [Math.min(p.rss[0], mem.rss), Math.max(p.rss[1], mem.rss)];
  p.blocks++;
  process.stderr.write(`${p.name}, block ${p.blocks}: heapUsed ${mib(mem.heapUsed)}, RSS ${mib(mem.rss)}\n`);
  const t0 = performance.now();
  await runRounds(p.rows, { rounds, warmup, random, name: p.name });
  const t1 = performance.now();
  c.windows.push([t0, t1]);
  p.seconds += (t1 - t0) / 1000;
}

/**
 * Without and with the ballast, in alternating blocks (A B B A A B …), so a
 * slow drift of the machine falls on both alike. The ballast is allocated
 * and dropped once first, so every no-ballast block starts from the same
 * process (V8 keeps some of a freed heap's memory).
 */
async function measure(list: readonly Variant[], s: Settings): Promise<{ baseline: Phase; ballast: Phase }> {
  const a = condition('no ballast', list);
  const b = condition(`${s.ballastMiB} MiB ballast`, list);
  const random = rng(s.seed);
  startGcLog();
  holdBallast(s.ballastMiB * 1024 * 1024);
  dropBallast();
  let held = false;
  let done = 0;
  for (let i = 0; i < s.blocks; i++) {
    const rounds = Math.round(((i + 1) * s.rounds) / s.blocks) - done;
    done += rounds;
    for (const c of i % 2 === 0 ? [a, b] : [b, a]) {
      if (c === b && !held) {
        const heap = holdBallast(s.ballastMiB * 1024 * 1024);
        process.stderr.write(`ballast: ${ballastItems()} objects, heapUsed ${mib(heap)}\n`);
        held = true;
      } else if (c === a && held) {
        dropBallast();
        held = false;
      }
      await block(c, rounds, i === 0 ? s.warmup : s.blockWarmup, random);
    }
  }
  dropBallast();
  a.phase.gc = await gcTotals(a.windows);
  b.phase.gc = await gcTotals(b.windows);
  stopGcLog();
  return { baseline: a.phase, ballast: b.phase };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const m = machine();
  process.stderr.write(
    `isolate-kit bench${args.quick ? ' (quick)' : ''}: ${m.nproc} CPUs, Linux ${m.kernel}, Node ${m.node}; ` +
      `${args.rounds} rounds, long run ${args.long}, seed ${args.seed}\n`,
  );
  const crun = new Crun();
  let layers: OverlayFixture | undefined;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      crun.cleanup();
      process.kill(process.pid, sig);
    });
  }
  try {
    const containerUnavailable = await containerProbe();
    const cgroupUnavailable = containerUnavailable ?? (await containerProbe({ cgroup: CGROUP_LIMITS }));
    layers = overlayFixture();
    const list = variants(crun, containerUnavailable, cgroupUnavailable, layers);
    for (const v of list) if (v.unavailable !== undefined) process.stderr.write(`  ${v.label}: ${v.unavailable}\n`);

    const { baseline, ballast } = await measure(list, args);

    const containersWork = list.find((v) => v.key === 'container')?.unavailable === undefined;
    const cgroupsWork = list.find((v) => v.key === 'container-cg')?.unavailable === undefined;
    process.stderr.write(`trace: ${args.traceRuns} runs with ISOLATE_KIT_TRACE=1\n`);
    const trace = containersWork ? await traceSetup(args.traceRuns) : undefined;
    const cgroupTrace = cgroupsWork ? await traceSetup(args.traceRuns, { container: { cgroup: {} }, focus: /cgroup/ }) : undefined;

    let cgroupOps: CgroupOpsReport | string = `Skipped: Container.run with a cgroup ${cgroupUnavailable ?? 'does not work here'}.`;
    if (cgroupsWork) cgroupOps = await measureCgroupOps(cgroupSettings(args), (msg) => process.stderr.write(`${msg}\n`));

    process.stderr.write('image io\n');
    const imageIo: ImageIoReport | string = await measureImageIo(args.quick ? 1 : 5, (msg) => process.stderr.write(`${msg}\n`)).catch((err: unknown) => `Failed: ${String(err)}`);

    const densityN = args.quick ? 20 : 200;
    const density: DensityReport | string = await measureDensity(
      densityN,
      list.find((v) => v.key === 'container')?.unavailable,
      list.find((v) => v.key === 'container-cg')?.unavailable,
      (msg) => process.stderr.write(`${msg}\n`),
    ).catch((err: unknown) => `Failed: ${String(err)}`);

    let long: LongReport | string = 'Skipped (--long 0).';
    if (!containersWork) long = 'Skipped: Container.run does not work here.';
    else if (args.long > 0) {
      process.stderr.write(`long run: ${args.long} runs in a child node ${LONG_NODE_FLAGS.join(" ")}\n`);
      long = await runLong(args.long, args.longWarmup);
    }

    m.loadEnd = loadavg();
    const leftover = await leftoverGroups();
    if (leftover.length) process.stderr.write(`cgroups of this process left behind: ${leftover.join(', ')}\n`);
    const result: BenchResult = { settings: args, machine: m, baseline, ballast, trace, cgroupTrace, cgroupOps, imageIo, density, leftoverCgroups: leftover, pooledCgroups: pooledGroups().length, long };
    process.stdout.write(`${summaryMarkdown(result)}\n`);
    if (args.out) {
      mkdirSync(dirname(args.out), { recursive: true });
      writeFileSync(args.out, documentMarkdown(result));
      process.stderr.write(`wrote ${args.out}\n`);
    } else {
      process.stderr.write('not writing docs/benchmarks.md (--quick or --no-write; --out FILE writes one)\n');
    }
  } finally {
    crun.cleanup();
    layers?.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
