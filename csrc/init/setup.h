/* The container phase of a plan: namespaces' contents, run once by init. */
#ifndef IK_SETUP_H
#define IK_SETUP_H

#include <stdint.h>
#include "plan_reader.h"

/* Where a plan failed: op index, IK_SC_* and errno, as sent to the parent. */
struct ik_fail {
  uint32_t op;
  uint32_t sc;
  int32_t err;
};

/* Runs ops [0, end). Returns 0, or -1 with *fail set; mounts already made
 * stay in the container's own mount namespace and vanish with it. */
int ik_setup_container(const struct ik_plan *plan, uint32_t end, struct ik_fail *fail);

/* The directory an IK_OP_HOLD opened (O_PATH, close-on-exec), or -1. */
extern int ik_setup_held_fd;
/* The seccomp listener init answers on (IK_OP_DENY_USERNS, netlink_guard.h), or -1. */
extern int ik_setup_guard_fd;

#endif
