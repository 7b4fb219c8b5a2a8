/**
 * The devices limit on cgroup v2: no control file, but a BPF program of
 * type CGROUP_DEVICE attached to the group (csrc/cgroup_devices.c), as runc
 * and crun do. On v1 the devices controller's files do it (v1.ts).
 */
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { IsolateError, describeErrno } from '../errors';
import { native } from '../native';
import { deviceRulesWithInitNodes, type DeviceRule } from './limits';

const O_DIRECTORY = fsc.O_DIRECTORY ?? 0o200000;

export function setDeviceFilter(dir: string, rules: DeviceRule[]): void {
  const fd = openSync(dir, fsc.O_RDONLY | O_DIRECTORY);
  try {
    const flat = deviceRulesWithInitNodes(rules).map((r) => [r.type, r.major, r.minor, (r.access.includes('m') ? 1 : 0) | (r.access.includes('r') ? 2 : 0) | (r.access.includes('w') ? 4 : 0)]);
    const errno = native().setDeviceFilter(fd, flat as [string, number, number, number][]);
    if (errno !== 0) {
      const [name, text] = describeErrno(errno);
      throw new IsolateError(errno === 1 || errno === 13 ? 'ERR_PERMISSION' : 'ERR_UNSUPPORTED', `Cannot attach the devices filter (a BPF program) to ${dir}: bpf: ${name} (${text})`, {
        option: 'devices',
        path: dir,
        syscall: 'bpf',
        errno,
        errnoCode: name,
      });
    }
  } finally {
    closeSync(fd);
  }
}
