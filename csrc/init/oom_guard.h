/* Keeping the memory OOM killer off init. A payload can fill a tmpfs (its
 * pages charged to the group, mapped by no process) while its own resident
 * set stays tiny; init, with its few hundred KiB, was then the biggest
 * process in the group, and the OOM killer ended it, and with it the whole
 * container. init cannot make itself unkillable (oom_score_adj below 0)
 * without CAP_SYS_RESOURCE, which many hosts' root lacks (Docker's default
 * set has it not), so each process init starts makes itself the preferred
 * victim instead: oom_score_adj 1000, as Kubernetes does for best-effort
 * pods. The kernel then scores it above init in any group bigger than
 * twice init (~1 MiB), and on the host above every process that did not ask
 * for the same, the Node process included. */
#ifndef IK_OOM_GUARD_H
#define IK_OOM_GUARD_H

/* In a child of init, before it drops privileges: sets its oom_score_adj to
 * 1000. With CAP_SYS_RESOURCE still held the kernel also makes 1000 the
 * lowest the payload may set (oom_score_adj_min); without it the payload
 * may lower it back to what Node had. Returns 0, or -1 with errno set and
 * *syscall the IK_SC_* that failed. */
int ik_oom_prefer_this(int *syscall);

#endif
