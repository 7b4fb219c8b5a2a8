/* Reading and validating a plan before anything trusts it. */
#ifndef IK_PLAN_READER_H
#define IK_PLAN_READER_H

#include <stdint.h>
#include "../ik_plan.h"

struct ik_plan {
  uint8_t *buf;
  uint32_t len;
  uint32_t flags;
  uint32_t op_count;
  const struct ik_op *ops;
  struct ik_spawn_header spawn;
};

/* A decoded list (argv, env, groups): `count` items at `items`. */
struct ik_list {
  uint32_t count;
  const uint32_t *items;
};

/* Reads the spawn header and the plan from fd. Returns 0 or -errno. */
int ik_plan_read(int fd, struct ik_plan *plan);

/* Checks every op: known type, strings inside the plan and NUL-terminated,
 * lists inside the plan. Returns -1 when valid, else the index of the first
 * bad op (op_count when the header itself is bad). */
long ik_plan_validate(const struct ik_plan *plan);

/* String at a validated offset, NULL for offset 0. */
const char *ik_plan_str(const struct ik_plan *plan, uint32_t off);

/* List at a validated offset (count 0 for offset 0). */
struct ik_list ik_plan_list(const struct ik_plan *plan, uint64_t off);

#endif
