/** Mocha root hooks: the leak checks every test gets (see leaks.ts). */
import { Container } from '../../lib';
import { containersUnavailable } from './caps';
import { pooledCgroupFds } from '../../lib/cgroup/pool';
import { native } from '../../lib/native';
import { childProcesses, containerishFds, hostMounts, initProcesses, ourCgroups, settle, tempDirs } from './leaks';

let baseMounts: string[] = [];
let baseFds = new Map<number, string>();
let baseChildren = new Set<number>();

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
  },

  async afterEach(this: Mocha.Context): Promise<void> {
    if (this.currentTest?.state === 'failed') return; // report the real failure, not its fallout
    const why = await settle(() => {
      const inits = initProcesses();
      if (inits.length) return `container init processes still running: ${inits.join(', ')}`;
      const kids = childProcesses().filter((p) => !baseChildren.has(p));
      if (kids.length) return `child processes left behind: ${kids.join(', ')}`;
      const mounts = diff(baseMounts, hostMounts());
      if (mounts.length) return `mounts added to the host: ${mounts.join('; ')}`;
      const pooled = new Set(pooledCgroupFds()); // the cgroup pool's ready groups, like their directories
      const fds = [...containerishFds()].filter(([fd, t]) => baseFds.get(fd) !== t && !pooled.has(fd));
      if (fds.length) return `fds left open: ${fds.map(([fd, t]) => `${fd} -> ${t}`).join(', ')}`;
      const groups = ourCgroups();
      if (groups.length) return `cgroups left behind: ${groups.join(', ')}`;
      // Sockets of ended containers still counted (csrc/netlink_ledger.h) would refuse the next tests' netlink.
      const orphans = containersUnavailable() === null ? native().netlinkOrphans(true) : 0;
      if (orphans > 0) return `netlink sockets of ended containers still open: ${orphans}`;
      return '';
    });
    if (why) throw new Error(`Leak after "${this.currentTest?.fullTitle()}": ${why}`);
  },

  afterAll(): void {
    const mounts = diff(baseMounts, hostMounts());
    if (mounts.length) throw new Error(`The host mount table changed during the suite: ${mounts.join('; ')}`);
    const left = tempDirs();
    if (left.length) throw new Error(`Test temp dirs left behind: ${left.join(', ')}`);
  },
};
