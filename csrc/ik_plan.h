/* The plan: a flat, fixed-layout list of setup steps that lib/plan.ts compiles
 * and init.c executes (bubblewrap's SetupOp list, serialized so it can cross
 * an exec). Every field is little-endian, every string is referenced by its
 * offset from the start of the plan and NUL-terminated inside it; the
 * executor checks both before trusting anything.
 *
 * Keep in sync with lib/plan.ts (IK_OP_*, IK_F_*, IK_SC_*).
 */
#ifndef IK_PLAN_H
#define IK_PLAN_H

#include <stdint.h>

#define IK_PLAN_MAGIC 0x314b5049u /* "IPK1" */
#define IK_PLAN_VERSION 1u
#define IK_PLAN_MAX_BYTES (1u << 26) /* 64 MiB: exec's strings (6 MiB at most) and every mount's (lib/plan.ts) */
#define IK_PLAN_MAX_OPS 4096u

struct ik_plan_header {
  uint32_t magic;
  uint32_t version;
  uint32_t length;     /* whole plan, header included */
  uint32_t op_count;
  uint32_t ops_offset; /* first struct ik_op */
  uint32_t flags;      /* IK_PLAN_F_* */
  uint32_t reserved[2];
};

/* Written by the addon (never by TS) in front of the plan on the plan pipe:
 * the host mount namespace lets init refuse mount steps that would land in
 * the host's mount table. */
#define IK_SPAWN_MAGIC 0x4e505349u /* "ISPN" */
struct ik_spawn_header {
  uint32_t magic;
  uint32_t plan_length;
  uint64_t host_mntns_dev;
  uint64_t host_mntns_ino;
};

/* Plan flags. */
#define IK_PLAN_F_PIDNS 0x1u /* init is PID 1 of a new pid namespace */
#define IK_PLAN_F_MNTNS 0x2u /* the plan may mount: init must be in a new mount namespace */
#define IK_PLAN_F_TRACE 0x4u /* init writes each step's duration to the container's stderr */

struct ik_op {
  uint32_t type;   /* IK_OP_* */
  uint32_t flags;  /* IK_F_* */
  uint32_t str[4]; /* string offsets, 0 = absent */
  uint64_t num[3];
};

enum ik_op_type {
  /* Container phase: run by init, once, before any process starts. */
  IK_OP_BIND = 1,     /* str0 source (host view), str1 target; num0 MOUNT_ATTR_* set */
  IK_OP_MOUNT = 2,    /* str0 source, str1 target, str2 fstype, str3 data; num0 MS_* */
  IK_OP_MASK = 3,     /* str0 null device (host view), str1 target: hide a file or dir */
  IK_OP_READONLY = 4, /* str1 target: re-bind in place read-only */
  IK_OP_MKDIR = 5,    /* str1 path, num0 mode */
  IK_OP_SYMLINK = 6,  /* str0 link contents, str1 path */
  IK_OP_PIVOT_ROOT = 7, /* str1 new root */
  IK_OP_HOSTNAME = 8, /* str0 */
  IK_OP_LOOPBACK = 9, /* prepare a new network namespace: netns_prepare.h */
  IK_OP_PROCESS = 10, /* the rest of the plan is the main process; num0 process id; num1 bit k:
                         fd k is a pipe the addon made for it, which init gives to its uid */
  IK_OP_UNSHARE = 11, /* num0 CLONE_NEW* flags; for the time namespace, which only children enter */
  IK_OP_MKNOD = 12,   /* str1 path, num0 mode (type and permissions), num1 device number */
  IK_OP_OVERLAY = 13, /* str0 upperdir (0: none, read-only), str1 target, str2 workdir;
                         num0 list of lowerdirs, top first; num1 MOUNT_ATTR_* of the mount */
  IK_OP_HOLD = 14,    /* str1 directory: opened (O_PATH) and sent to the parent once the
                         container is set up (IK_MSG_HOLD), which reaches it after pivot_root */
  IK_OP_DENY_USERNS = 15, /* init installs the seccomp filter of init/no_userns.c, which every
                             process it starts inherits: no new user namespaces; init answers
                             for NETLINK_ROUTE sockets (init/netlink_guard.c); num0 1: it
                             refuses them all (sockets of ended containers are open) */
  IK_OP_LANDLOCK = 16, /* init restricts itself to a Landlock domain, which every process it
                          starts inherits: no ptrace (nor, mode 1, signals or abstract Unix
                          sockets) out of the container; num0 enum ik_landlock_mode
                          (init/landlock_scope.h) */
  IK_OP_SESSION_KEYRING = 17, /* init joins a new, empty session keyring, which every process it
                                 starts inherits instead of the caller's */

  /* Process phase: run in the forked payload, just before execve. */
  IK_OP_RLIMIT = 20, /* num0 resource, num1 soft, num2 hard */
  IK_OP_CREDS = 21,  /* num0 uid | gid << 32, num1 groups list, num2 capabilities to keep (bit n = cap n) */
  IK_OP_CHDIR = 22,  /* str0 */
  IK_OP_NO_NEW_PRIVS = 23,
  IK_OP_EXEC = 24, /* str0 file, str1 PATH to search when file has no '/'; num0 argv list, num1 env list */
  IK_OP_SECCOMP = 25, /* num0 list: a seccomp filter (the caller's profile, compiled), two items per
                         struct sock_filter, installed right before execve, over init's */
};

/* Op flags. */
#define IK_F_RECURSIVE 0x1u /* BIND/READONLY: include submounts */
#define IK_F_OPTIONAL 0x2u  /* skip when the target (or source) does not exist */
#define IK_F_MKDIR 0x4u     /* create the target directory first */
#define IK_F_MKFILE 0x8u    /* create the target as an empty file first */
#define IK_F_SETGROUPS 0x10u /* CREDS: num1 is a list of supplementary groups */
#define IK_F_INPLACE 0x20u   /* READONLY: set the attributes on the mount at str1 itself */
#define IK_F_NO_SYMLINKS 0x40u /* str1, below the new root, is resolved there without following any
                                  symbolic link (setup.c): a kernel filesystem's place, what is in it */

/* The most instructions a seccomp filter may have (the kernel's BPF_MAXINSNS). */
#define IK_SECCOMP_MAX_INSNS 4096u
/* Lists (argv, env, groups, a seccomp filter) are { u32 count; u32 item[count]; } at a 4-aligned
 * offset; items are string offsets (argv, env) or ids (groups). */

/* Which call failed, for the failure record: lib/plan.ts maps these to names. */
enum ik_syscall {
  IK_SC_NONE = 0,
  IK_SC_PLAN = 1, /* the plan itself is malformed */
  IK_SC_NS_CHECK = 2,
  IK_SC_MOUNT = 3,
  IK_SC_UMOUNT = 4,
  IK_SC_OPEN_TREE = 5,
  IK_SC_MOUNT_SETATTR = 6,
  IK_SC_MOVE_MOUNT = 7,
  IK_SC_MKDIR = 8,
  IK_SC_OPEN = 9,
  IK_SC_SYMLINK = 10,
  IK_SC_PIVOT_ROOT = 11,
  IK_SC_CHDIR = 12,
  IK_SC_SETHOSTNAME = 13,
  IK_SC_SOCKET = 14,
  IK_SC_IOCTL = 15,
  IK_SC_SETRLIMIT = 16,
  IK_SC_SETGROUPS = 17,
  IK_SC_SETRESGID = 18,
  IK_SC_SETRESUID = 19,
  IK_SC_CAPSET = 20,
  IK_SC_PRCTL = 21,
  IK_SC_EXECVE = 22,
  IK_SC_FORK = 23,
  IK_SC_READ = 24,
  IK_SC_STAT = 25,
  IK_SC_SIGNALFD = 26,
  IK_SC_EXEC_INIT = 27, /* the addon's child could not exec init */
  IK_SC_DUP2 = 28,
  IK_SC_RECVMSG = 29,
  IK_SC_UNSHARE = 30,
  IK_SC_MKNOD = 31,
  IK_SC_CGROUP_JOIN = 32, /* writing our pid to a cgroup.procs file */
  IK_SC_FSOPEN = 33,
  IK_SC_FSCONFIG = 34, /* setting up a filesystem (an overlay's layers) */
  IK_SC_FSMOUNT = 35,
  IK_SC_SECCOMP = 36, /* installing a seccomp filter */
  IK_SC_PWRITE = 37,  /* writing a sysctl (netns_prepare.c) */
  IK_SC_LANDLOCK = 38, /* a landlock_* call (init/landlock_scope.c) */
  IK_SC_KEYCTL = 39,   /* joining a session keyring */
};

#endif
