/* The process phase of a plan: one payload process, forked by init. */
#ifndef IK_PROCESS_H
#define IK_PROCESS_H

#include <stdint.h>
#include <sys/types.h>
#include "plan_reader.h"
#include "setup.h"

struct ik_proc {
  uint32_t id;
  const struct ik_plan *plan;
  uint32_t first_op; /* first op after IK_OP_PROCESS */
  uint32_t exec_op;  /* the IK_OP_EXEC that ends it */
  int stdio[3];      /* fds to become 0, 1, 2 (>= 3, or equal to their target) */
  unsigned own_pipes; /* bit k: stdio[k] is a pipe the addon made for this process */
  char **argv;       /* prepared before the fork: the child does not allocate */
  char **envp;
  char *path_buf;
  struct ik_fail fail; /* written by the child when it cannot exec */
  int failed;
  int die_with_init;   /* no pid namespace: PR_SET_PDEATHSIG, so killing init kills it */
  pid_t parent;        /* init's pid, to tell whether it died before PR_SET_PDEATHSIG took */
  int64_t exec_ns;     /* CLOCK_MONOTONIC, written by the child just before it execs */
  int report_fd;       /* ik_process_spawn's child: where it reports (its copy of p is its own) */
};

/* What a child started by ik_process_spawn() writes on its report pipe:
 * the moment it execs, and why it could not. */
struct ik_report {
  int32_t kind; /* IK_REPORT_* */
  uint32_t pad;
  int64_t exec_ns;
  struct ik_fail fail;
};
enum { IK_REPORT_EXEC = 1, IK_REPORT_FAIL = 2 };

/* Where a spawned child's report stands: IK_SPAWN_WAIT (more to come),
 * IK_SPAWN_EXECD (it exec'd, or died before it could say why not) or
 * IK_SPAWN_FAILED (*fail says why). */
enum { IK_SPAWN_WAIT = 0, IK_SPAWN_EXECD = 1, IK_SPAWN_FAILED = 2 };

/* Finds the process ops that start at `first_op` and prepares argv/envp.
 * Returns 0, or -1 with p->fail set. */
int ik_process_prepare(struct ik_proc *p, const struct ik_plan *plan, uint32_t first_op);

/* Starts the process (clone with CLONE_VM|CLONE_VFORK: init waits until it
 * has exec'd or failed). Returns its pid, or -1 with p->fail set. Only where
 * nothing else runs in the container that could stop the child before its
 * exec, and init with it: the main process, or a command exec'd into a pid
 * namespace with no other process (main.c, container_empty()). */
pid_t ik_process_start(struct ik_proc *p);

/* Starts the process without waiting for it (a plain fork: the child has
 * its own copy of memory, p included, and p may be freed at once). The
 * child reports on a close-on-exec pipe whose read end, non-blocking, goes
 * to *report: its end of file means the exec happened (or the child died).
 * Returns its pid, or -1 with p->fail set. */
pid_t ik_process_spawn(struct ik_proc *p, int *report);

/* Reads what a spawned child reported so far on `report`: IK_SPAWN_*; the
 * exec's moment in *exec_ns (0 if none came), the failure in *fail. */
int ik_process_collect(int report, int64_t *exec_ns, struct ik_fail *fail);

void ik_process_free(struct ik_proc *p);

#endif
