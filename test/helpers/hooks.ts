/** Mocha root hooks: the leak checks every test gets (see leaks.ts). */
import { Container } from '../../lib';
import { containersUnavailable } from './caps';
import { pooledCgroupFds } from '../../lib/cgroup/pool';
import { native } from '../../lib/native';
import { _leasedLayers } from '../../lib/layer-leases';
import { childProcesses, containerishFds, endStrays, hostMounts, initProcesses, ourCgroups, ownLimits, ownUmask, restoreFdLimit, settle, tempDirs } from './leaks';

// The tests build trees a payload running as nobody must read and run
// (layers, images, probes gcc writes): under the caller's umask (027 or 077
// on a hardened CI) they came out 0750/0640, and those tests failed with
// EACCES inside. The library sets its own modes (tar-read.ts chmods; the
// payload starts with 022): only the tests' own files need this. Set once,
// before any test file loads; fixtures and CLI children inherit it.
process.umask(0o022);

let baseMounts: string[] = [];
let baseFds = new Map<number, string>();
let baseChildren = new Set<number>();
// What the tests are judged against: the start's, plus the fallout of a failed test or a leak already reported.
let judgedMounts: string[] = [];
let knownGroups = new Set<string>();
let knownOrphans = 0;
let knownLeases = new Set<string>();
let baseResources: string[] = [];
let baseLimits = '';

function diff(before: string[], after: string[]): string[] {
  const b = new Set(before);
  return after.filter((x) => !b.has(x));
}

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    // One container first: the addon keeps a few process-wide fds (its own
    // pidfd, the init memfd, /dev/null, prepared network namespaces) for good.
    if (containersUnavailable() === null) await Container.run(['true']);
    baseMounts = hostMounts();
    baseFds = containerishFds();
    baseChildren = new Set(childProcesses());
    judgedMounts = baseMounts;
    baseResources = process.getActiveResourcesInfo();
    baseLimits = ownLimits();
  },

  async afterEach(this: Mocha.Context): Promise<void> {
    if (this.currentTest?.state === 'failed') {
      // Report the real failure, not its fallout; and clear that away so it
      // is neither blamed on the next test nor keeps the run from ending.
      await clearFallout();
      return;
    }
    const why = await settle(() => {
      if (ownUmask() !== '0022') return `this process's umask changed to ${ownUmask()}`;
      if (ownLimits() !== baseLimits) return `this process's resource limits changed: ${diff(baseLimits.split('\n'), ownLimits().split('\n')).join('; ')}`;
      const inits = initProcesses();
      if (inits.length) return `container init processes still running: ${inits.join(', ')}`;
      const kids = childProcesses().filter((p) => !baseChildren.has(p));
      if (kids.length) return `child processes left behind: ${kids.join(', ')}`;
      const mounts = diff(judgedMounts, hostMounts());
      if (mounts.length) return `mounts added to the host: ${mounts.join('; ')}`;
      const pooled = new Set(pooledCgroupFds()); // the cgroup pool's ready groups, like their directories
      const fds = [...containerishFds()].filter(([fd, t]) => baseFds.get(fd) !== t && !pooled.has(fd));
      if (fds.length) return `fds left open: ${fds.map(([fd, t]) => `${fd} -> ${t}`).join(', ')}`;
      const leased = _leasedLayers().filter((d) => !knownLeases.has(d));
      if (leased.length) return `layer directories still held (lib/layer-leases.ts): ${leased.join(', ')}`;
      const groups = ourCgroups().filter((g) => !knownGroups.has(g));
      if (groups.length) return `cgroups left behind: ${groups.join(', ')}`;
      // Sockets of ended containers still counted (csrc/netlink_ledger.h) would refuse the next tests' netlink.
      const orphans = containersUnavailable() === null ? native().netlinkOrphans(true) : 0;
      if (orphans > knownOrphans) return `netlink sockets of ended containers still open: ${orphans}`;
      return '';
    });
    if (why) {
      await clearFallout();
      // Fails this test, not the hook: a root hook's failure would end the whole run there.
      (this.test as unknown as { error(err: Error): void }).error(new Error(`Leak after "${this.currentTest?.fullTitle()}": ${why}`));
    }
  },

  afterAll(): void {
    // Whatever still keeps Node running once mocha is done is a leak of its
    // own (a handle the library left): say so and end, rather than hang
    // until CI's time runs out. Unref'd, this timer alone keeps nothing alive.
    setTimeout(() => {
      const left = diffCounts(baseResources, process.getActiveResourcesInfo());
      process.stderr.write(`The suite ended but Node still runs, held by: ${left.join(', ') || 'nothing new (see the failures above)'}\n`);
      process.exit(1);
    }, 15_000).unref();
    const mounts = diff(baseMounts, hostMounts());
    if (mounts.length) throw new Error(`The host mount table changed during the suite: ${mounts.join('; ')}`);
    const left = tempDirs();
    if (left.length) throw new Error(`Test temp dirs left behind: ${left.join(', ')}`);
  },
};

/** What `after` has beyond `before`, counting repeats. */
function diffCounts(before: string[], after: string[]): string[] {
  const left = [...before];
  return after.filter((x) => {
    const i = left.indexOf(x);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Ends a failed or leaking test's processes, and takes what else it left as known, so later tests are judged on their own. */
async function clearFallout(): Promise<void> {
  const ended = await endStrays(baseChildren);
  if (ended.length) process.stderr.write(`(ended processes the test left: ${ended.join(', ')})\n`);
  process.umask(0o022);
  if (ownLimits() !== baseLimits && !restoreFdLimit(baseLimits)) process.stderr.write(`(the test changed this process's limits, and they could not be put back)\n`);
  judgedMounts = hostMounts();
  baseFds = containerishFds();
  knownGroups = new Set(ourCgroups());
  knownLeases = new Set(_leasedLayers());
  knownOrphans = containersUnavailable() === null ? native().netlinkOrphans(true) : 0;
}
