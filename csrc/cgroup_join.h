/* Entering a container's cgroups from the new process itself, before it
 * runs anything else: write "0" (= the writer) to each cgroup.procs file. */
#ifndef IK_CGROUP_JOIN_H
#define IK_CGROUP_JOIN_H

#ifdef __cplusplus
extern "C" {
#endif

/* Raw syscalls only (callable between clone and exec). Returns 0, or -1
 * with errno set by the write that failed. Does not close the fds. */
int ik_cgroup_join(const int *procs_fds, int n);

#ifdef __cplusplus
}
#endif

#endif
