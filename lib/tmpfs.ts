/**
 * Inodes of a private tmpfs: one per KiB of its size, at least 1024. A
 * tmpfs `size` bounds only data pages: empty files, directories, symlinks
 * and whiteouts take none, and the kernel's default count is half the RAM's
 * pages. Without a count a payload made 200,000 empty files in a 1 MiB
 * tmpfs, each ~1 KiB of kernel memory (charged to no group when the
 * container has none) and, in a writable layer, one entry for diff() and
 * commit() to walk. A file with data takes a 4 KiB page anyway, so one inode
 * per KiB leaves room for the rest of a real tree (65,536 for 64 MiB).
 */
export function tmpfsInodes(size: number): number {
  return Math.max(1024, Math.floor(size / 1024));
}
