/* Syscalls and flags that older libc headers lack, called through syscall(2)
 * so the build does not depend on the libc version (crun's syscalls.h). */
#ifndef IK_COMPAT_H
#define IK_COMPAT_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount 429
#endif
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_close_range
#define __NR_close_range 436
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_mount_setattr
#define __NR_mount_setattr 442
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig 431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount 432
#endif

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
/* fsconfig commands (linux/mount.h) */
#define IK_FSCONFIG_SET_FLAG 0
#define IK_FSCONFIG_SET_STRING 1
#define IK_FSCONFIG_CMD_CREATE 6

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC 02000000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef __NR_openat2
#define __NR_openat2 437
#endif
/* openat2's struct open_how and resolve flags (linux/openat2.h, Linux 5.6) */
struct ik_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};
#define IK_RESOLVE_NO_MAGICLINKS 0x02
#define IK_RESOLVE_NO_SYMLINKS 0x04
#define IK_RESOLVE_IN_ROOT 0x10
/* statx's mount id (Linux 5.8; linux/stat.h STATX_MNT_ID) */
#define IK_STATX_MNT_ID 0x00001000U
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* clone3's argument, up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7). */
struct ik_clone_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};

struct ik_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

static inline int ik_open_tree(int dfd, const char *path, unsigned flags) {
  return (int)syscall(__NR_open_tree, dfd, path, flags);
}

static inline int ik_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
                                unsigned flags) {
  return (int)syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags);
}

static inline int ik_mount_setattr(int dfd, const char *path, unsigned flags, uint64_t set,
                                   uint64_t clr) {
  struct ik_mount_attr attr = {set, clr, 0, 0};
  return (int)syscall(__NR_mount_setattr, dfd, path, flags, &attr, sizeof attr);
}

static inline int ik_fsopen(const char *fsname, unsigned flags) {
  return (int)syscall(__NR_fsopen, fsname, flags);
}

static inline int ik_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
  return (int)syscall(__NR_fsconfig, fd, cmd, key, value, aux);
}

static inline int ik_fsmount(int fd, unsigned flags, unsigned attrs) {
  return (int)syscall(__NR_fsmount, fd, flags, attrs);
}

static inline int ik_openat2(int dfd, const char *path, uint64_t flags, uint64_t resolve) {
  struct ik_open_how how = {flags, 0, resolve};
  return (int)syscall(__NR_openat2, dfd, path, &how, sizeof how);
}

static inline int ik_pivot_root(const char *new_root, const char *put_old) {
  return (int)syscall(__NR_pivot_root, new_root, put_old);
}

static inline int ik_close_range(unsigned first, unsigned last, unsigned flags) {
  return (int)syscall(__NR_close_range, first, last, flags);
}

static inline int ik_pidfd_send_signal(int pidfd, int sig) {
  return (int)syscall(__NR_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static inline int ik_pidfd_open(int pid) {
  return (int)syscall(__NR_pidfd_open, pid, 0);
}

#endif
