/* Where the addon's cgroup calls start their path walk.
 *
 * A cgroup file's path (/sys/fs/cgroup/memory/isolate-kit/<group>/tasks)
 * crosses sysfs (/sys, /sys/fs, /sys/fs/cgroup) before it reaches the cgroup
 * filesystem, and each sysfs step takes sysfs's kernfs lock for reading.
 * Whatever adds a device holds that lock for writing: a network namespace
 * made ahead adds its `lo` there (a few hundred µs of such writes). Traced
 * in a loop of containers with a group, the event loop blocked in that
 * lookup at one start in six, behind the namespace being made for the next
 * container. Parent directories registered here are held open (O_PATH),
 * and a path under one is reached from there with an *at() call: no sysfs
 * step, no other path component walked again. */
#ifndef IK_CGROUP_DIRS_H
#define IK_CGROUP_DIRS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Holds `dir` open for paths under it (once per directory: again only if
 * the path now names a new one; thread-safe). 0, or -errno when it cannot
 * be opened or the table is full (paths under it are then walked from the
 * root). A held directory removed later is passed by (see addon.cc's
 * AtCgroupDir): the path is then walked whole. */
int ik_cgroup_dirs_add(const char *dir);

/* The registered directory `path` is under: its fd, with *rel set to the
 * rest of `path`. AT_FDCWD with *rel = path otherwise. */
int ik_cgroup_dir_for(const char *path, const char **rel);

/* The fds held (for leak checks): up to `max` into `out`; their count. */
int ik_cgroup_dirs_fds(int *out, int max);

#ifdef __cplusplus
}
#endif

#endif
