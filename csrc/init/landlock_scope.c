/* See landlock_scope.h. Three system calls, once per container, by init
 * before it starts any process. */
#define _GNU_SOURCE
#include "landlock_scope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The same numbers on every architecture. */
#define SYS_LANDLOCK_CREATE_RULESET 444
#define SYS_LANDLOCK_ADD_RULE 445
#define SYS_LANDLOCK_RESTRICT_SELF 446

#define LL_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)               /* ABI 6 */
#define LL_RULE_PATH_BENEATH 1

/* The uapi structs, spelled out: a system's <linux/landlock.h> may predate
 * the scoped field. A kernel that knows fewer fields accepts a larger
 * struct whose extra bytes are zero. */
struct ll_ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

struct ll_path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

int ik_landlock_scope(int mode) {
  struct ll_ruleset_attr attr = {0, 0, 0};
  if (mode == IK_LANDLOCK_SCOPE)
    attr.scoped = LL_SCOPE_SIGNAL | LL_SCOPE_ABSTRACT_UNIX_SOCKET;
  else if (mode == IK_LANDLOCK_REFER)
    attr.handled_access_fs = LL_ACCESS_FS_REFER;
  else {
    errno = EINVAL;
    return -1;
  }
  int ruleset = (int)syscall(SYS_LANDLOCK_CREATE_RULESET, &attr, sizeof attr, 0);
  if (ruleset < 0)
    return -1;
  int r = 0;
  if (mode == IK_LANDLOCK_REFER) {
    /* "/" is the container's root by now (after pivot_root); every path
     * inside, on any mount, is beneath it. */
    struct ll_path_beneath_attr beneath = {LL_ACCESS_FS_REFER, -1};
    beneath.parent_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    r = beneath.parent_fd < 0 ? -1 : (int)syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LL_RULE_PATH_BENEATH, &beneath, 0);
    if (beneath.parent_fd >= 0) {
      int e = errno;
      close(beneath.parent_fd);
      errno = e;
    }
  }
  /* init is root with CAP_SYS_ADMIN, so no no_new_privs is needed (and
   * none is set: whether payloads get it is the plan's choice). */
  if (r == 0)
    r = (int)syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0);
  int e = errno;
  close(ruleset);
  errno = e;
  return r < 0 ? -1 : 0;
}
