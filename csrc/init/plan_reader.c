#include "plan_reader.h"
#include "landlock_scope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_full(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      return -EPIPE; /* the writer went away mid-plan */
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int ik_plan_read(int fd, struct ik_plan *plan) {
  memset(plan, 0, sizeof *plan);
  int r = read_full(fd, &plan->spawn, sizeof plan->spawn);
  if (r < 0)
    return r;
  if (plan->spawn.magic != IK_SPAWN_MAGIC)
    return -EPROTO;
  uint32_t len = plan->spawn.plan_length;
  if (len < sizeof(struct ik_plan_header) || len > IK_PLAN_MAX_BYTES)
    return -E2BIG;
  /* One spare NUL so a string that runs to the end is still bounded. */
  plan->buf = calloc(1, (size_t)len + 1);
  if (plan->buf == NULL)
    return -ENOMEM;
  r = read_full(fd, plan->buf, len);
  if (r < 0)
    return r;
  plan->len = len;
  const struct ik_plan_header *h = (const void *)plan->buf;
  if (h->magic != IK_PLAN_MAGIC || h->version != IK_PLAN_VERSION || h->length != len)
    return -EPROTO;
  if (h->op_count > IK_PLAN_MAX_OPS || h->ops_offset % 8 != 0 || h->ops_offset < sizeof *h ||
      (uint64_t)h->ops_offset + (uint64_t)h->op_count * sizeof(struct ik_op) > len)
    return -EPROTO;
  plan->flags = h->flags;
  plan->op_count = h->op_count;
  plan->ops = (const struct ik_op *)(plan->buf + h->ops_offset);
  return 0;
}

/* A string is valid if it starts inside the plan and a NUL follows within it. */
static int str_ok(const struct ik_plan *plan, uint32_t off) {
  if (off == 0)
    return 1;
  if (off >= plan->len)
    return 0;
  return memchr(plan->buf + off, 0, plan->len - off) != NULL;
}

static int list_ok(const struct ik_plan *plan, uint64_t off, int items_are_strings) {
  if (off == 0)
    return 1;
  if (off % 4 != 0 || off + 4 > plan->len)
    return 0;
  uint32_t count;
  memcpy(&count, plan->buf + off, 4);
  if ((uint64_t)count * 4 > plan->len - off - 4)
    return 0;
  if (!items_are_strings)
    return 1;
  const uint32_t *items = (const uint32_t *)(plan->buf + off + 4);
  for (uint32_t i = 0; i < count; i++)
    if (items[i] == 0 || !str_ok(plan, items[i]))
      return 0;
  return 1;
}

long ik_plan_validate(const struct ik_plan *plan) {
  for (uint32_t i = 0; i < plan->op_count; i++) {
    const struct ik_op *op = &plan->ops[i];
    for (int s = 0; s < 4; s++)
      if (!str_ok(plan, op->str[s]))
        return i;
    switch (op->type) {
    case IK_OP_BIND:
      if (op->str[0] == 0 || op->str[1] == 0)
        return i;
      break;
    case IK_OP_MOUNT:
      if (op->str[1] == 0 || op->str[2] == 0)
        return i;
      break;
    case IK_OP_MASK:
      if (op->str[0] == 0 || op->str[1] == 0)
        return i;
      break;
    case IK_OP_READONLY:
    case IK_OP_HOLD:
    case IK_OP_MKDIR:
    case IK_OP_MKNOD:
    case IK_OP_PIVOT_ROOT:
      if (op->str[1] == 0)
        return i;
      break;
    case IK_OP_SYMLINK:
      if (op->str[0] == 0 || op->str[1] == 0)
        return i;
      break;
    case IK_OP_OVERLAY:
      /* An upper needs a workdir; at least one lower. */
      if (op->str[1] == 0 || (op->str[0] != 0) != (op->str[2] != 0) || op->num[0] == 0 ||
          !list_ok(plan, op->num[0], 1) || ik_plan_list(plan, op->num[0]).count == 0)
        return i;
      break;
    case IK_OP_HOSTNAME:
    case IK_OP_CHDIR:
      if (op->str[0] == 0)
        return i;
      break;
    case IK_OP_PROCESS:
      if (op->num[1] > 7)
        return i;
      break;
    case IK_OP_LOOPBACK:
    case IK_OP_UNSHARE:
    case IK_OP_RLIMIT:
    case IK_OP_NO_NEW_PRIVS:
    case IK_OP_DENY_USERNS:
    case IK_OP_SESSION_KEYRING:
      break;
    case IK_OP_LANDLOCK:
      if (op->num[0] != IK_LANDLOCK_SCOPE && op->num[0] != IK_LANDLOCK_REFER)
        return i;
      break;
    case IK_OP_CREDS:
      if (!list_ok(plan, op->num[1], 0))
        return i;
      break;
    case IK_OP_SECCOMP: {
      /* Whole instructions, as many as the kernel takes: it checks the rest. */
      if (op->num[0] == 0 || !list_ok(plan, op->num[0], 0))
        return i;
      uint32_t n = ik_plan_list(plan, op->num[0]).count;
      if (n == 0 || n % 2 != 0 || n / 2 > IK_SECCOMP_MAX_INSNS)
        return i;
      break;
    }
    case IK_OP_EXEC:
      if (op->str[0] == 0 || op->num[0] == 0 || !list_ok(plan, op->num[0], 1) ||
          !list_ok(plan, op->num[1], 1))
        return i;
      break;
    default:
      return i;
    }
  }
  return -1;
}

const char *ik_plan_str(const struct ik_plan *plan, uint32_t off) {
  return off == 0 ? NULL : (const char *)plan->buf + off;
}

struct ik_list ik_plan_list(const struct ik_plan *plan, uint64_t off) {
  struct ik_list l = {0, NULL};
  if (off == 0)
    return l;
  memcpy(&l.count, plan->buf + off, 4);
  l.items = (const uint32_t *)(plan->buf + off + 4);
  return l;
}
