/* The Node side of the zygote (csrc/init/zygote.c): starts it on first use,
 * asks it for container inits, restarts it if it died. Thread-safe. */
#ifndef IK_ZYGOTE_CLIENT_H
#define IK_ZYGOTE_CLIENT_H

#ifdef __cplusplus
extern "C" {
#endif

#include "spawn.h"

/* fds: stdin, stdout, stderr, plan pipe, init's control socket end, its
 * netlink set, and netns_fd unless it is -1; cg (may be NULL): the cgroup to start in.
 * Returns the new init's pid (a child of this process) and sets *pidfd_out,
 * or returns -errno. init_fd and null_fd are the addon's init memfd and
 * /dev/null, used to start the zygote. */
int ik_zygote_clone(unsigned long ns_flags, const int fds[6], int netns_fd, const struct ik_cgroup_fds *cg,
                    int init_fd, int null_fd, int self_pidfd, int *pidfd_out);

#ifdef __cplusplus
}
#endif

#endif
