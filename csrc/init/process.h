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
  int64_t exec_ns;     /* CLOCK_MONOTONIC, written by the child just before it execs */
};

/* Finds the process ops that start at `first_op` and prepares argv/envp.
 * Returns 0, or -1 with p->fail set. */
int ik_process_prepare(struct ik_proc *p, const struct ik_plan *plan, uint32_t first_op);

/* Starts the process (clone with CLONE_VM|CLONE_VFORK: init waits until it
 * has exec'd or failed). Returns its pid, or -1 with p->fail set. */
pid_t ik_process_start(struct ik_proc *p);

void ik_process_free(struct ik_proc *p);

#endif
