/**
 * The device nodes init makes in a container's /dev (a tmpfs): harmless
 * character devices, by major and minor number. filesystem.ts plans their
 * mknods; a cgroup devices allow list lets init make them (cgroup/limits.ts).
 */
export const DEVICES: readonly (readonly [name: string, major: number, minor: number])[] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];
