/* Parent side of a container start: clone init into its namespaces without
 * copying Node's address space, and exec it by fd. */
#ifndef IK_SPAWN_H
#define IK_SPAWN_H

#ifdef __cplusplus
extern "C" {
#endif

#include "ik_proto.h"

/* The cgroup a container starts in. */
struct ik_cgroup_fds {
  int dir_fd; /* cgroup v2 directory for CLONE_INTO_CGROUP, or -1 */
  int join_fds[IK_MAX_CGROUP_JOIN]; /* cgroup.procs files to write "0" to */
  int n_join;
};

struct ik_spawn_args {
  const char *argv0; /* "isolate-kit-init", or "isolate-kit-zygote" for the zygote */
  int init_fd;      /* sealed memfd (or file) holding the init binary */
  int stdio[3];     /* become the container's fds 0, 1, 2 */
  int plan_fd;      /* becomes fd 3 */
  int ctrl_fd;      /* becomes fd 4 */
  int netlink_set_fd; /* becomes fd 5: the container's netlink set (IK_MSG_NETLINK) */
  int parent_pidfd; /* pidfd of this process, to close the PDEATHSIG race */
  int netns_fd;     /* >= 0: join this (fresh, pre-made) network namespace */
  const struct ik_cgroup_fds *cgroup; /* NULL, or cgroups to join first thing */
  /* out: set by the child when it could not exec init, and the step */
  int err;
  const char *failed;
};

/* Clones init with `ns_flags` (CLONE_NEW*). Returns the pid and sets
 * *pidfd_out, or returns -errno (a->err also set when the exec failed). */
int ik_spawn(unsigned long ns_flags, struct ik_spawn_args *a, int *pidfd_out);

/* Runs unshare(flags) in a throw-away child; returns 0 or the errno. */
int ik_probe_unshare(unsigned long flags);


#ifdef __cplusplus
}
#endif

#endif
