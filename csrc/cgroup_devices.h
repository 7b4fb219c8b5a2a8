/* cgroup v2 device access control: on cgroup v2 the "devices" controller is
 * not a controller at all but an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
 * attached to the cgroup directory, asked on every device open/mknod. */
#ifndef IK_CGROUP_DEVICES_H
#define IK_CGROUP_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IK_DEV_MKNOD 1u /* = BPF_DEVCG_ACC_MKNOD */
#define IK_DEV_READ 2u  /* = BPF_DEVCG_ACC_READ */
#define IK_DEV_WRITE 4u /* = BPF_DEVCG_ACC_WRITE */

struct ik_dev_rule {
  char type;       /* 'a' any, 'b' block, 'c' char */
  int64_t major;   /* -1 = any, else 0..INT32_MAX */
  int64_t minor;   /* -1 = any, else 0..INT32_MAX */
  uint32_t access; /* IK_DEV_* bits */
};

/* Makes the cgroup v2 directory `cgroup_fd` allow exactly `rules` (a device
 * access is allowed when any rule matches type, major, minor and includes every
 * requested access bit) and deny every other device access. Replaces a filter
 * this function attached before to the same cgroup (update): every device
 * program attached directly to this cgroup is replaced, so the cgroup should
 * be one isolate-kit owns. Ancestors' programs still apply on top (the kernel
 * ANDs them). Returns 0 or -errno (-EINVAL for a malformed rule); on failure
 * nothing new is attached (the old filter, if any, stays).
 * n may be 0 (deny all). Needs CAP_SYS_ADMIN. Thread-safe, no global state. */
int ik_cgroup_set_device_filter(int cgroup_fd, const struct ik_dev_rule *rules, size_t n);

#ifdef __cplusplus
}
#endif

#endif
