/* Container-phase steps. Policy lives in lib/plan.ts; this file only does
 * what an op says, in order, and names the op and the call when one fails.
 *
 * Mount safety: any op that touches the filesystem first proves that init is
 * in a mount namespace other than the Node process's (the addon, not TS,
 * supplies the host namespace's inode) and makes "/" recursively private, so
 * neither a plan bug nor a hostile payload can propagate a mount to the host.
 */
#define _GNU_SOURCE
#include "setup.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <linux/keyctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../compat.h"
#include "../netns_prepare.h"
#include "landlock_scope.h"
#include "no_userns.h"

#define FAIL(i, s)                                                                                 \
  do {                                                                                             \
    fail->op = (i);                                                                                \
    fail->sc = (s);                                                                                \
    fail->err = errno;                                                                             \
    goto out;                                                                                      \
  } while (0)

static int is_fs_op(uint32_t type) {
  switch (type) {
  case IK_OP_BIND:
  case IK_OP_MOUNT:
  case IK_OP_MASK:
  case IK_OP_READONLY:
  case IK_OP_MKDIR:
  case IK_OP_MKNOD:
  case IK_OP_SYMLINK:
  case IK_OP_PIVOT_ROOT:
  case IK_OP_OVERLAY:
  case IK_OP_HOLD:
    return 1;
  default:
    return 0;
  }
}

/* The new root: the PIVOT_ROOT op's path, and an O_PATH fd of what is
 * mounted there, opened when a step first acts below it (the plan puts the
 * root's own mount in place first) and again after a step on the root itself.
 *
 * Below the new root the tree is the image's, and the kernel resolves a path
 * such as <root>/run in init's view, where an image's symlink `run -> /`
 * leads to the host's root: a tmpfs mounted "on /run" sat on the host's
 * root, pivot_root's detach then took that tmpfs and left the host's root,
 * read-write, reachable from inside as `/..`; init's mkdir and mknod went
 * through such links onto the host's disk (review, 2026-11-29). So every
 * target below the new root is resolved inside it, as the container itself
 * would resolve it (openat2 RESOLVE_IN_ROOT: `..` and absolute links stop at
 * the root), and the step acts on the fd it got: the *at() calls and
 * move_mount on the fd, mount(2), which takes only a path, on "." after a
 * fchdir to it (runc mounts on the fd's /proc/self/fd name). Paths
 * elsewhere (init's staging tmpfs, the host's sources) are the plan's own
 * and used as they are. */
static const char *root_path;
static size_t root_len;
static int root_fd = -1;
static struct stat root_st;
/* How the current step's target is resolved inside the new root. With
 * IK_F_NO_SYMLINKS (the kernel filesystems, their masks and read-only
 * parts), no link at all: an image's links could otherwise lead the proc
 * mount to one directory and its masks, resolved after it (when the links
 * may go through procfs), to another, where they find nothing and are
 * skipped (review, 2026-11-29). */
static uint64_t step_resolve = IK_RESOLVE_IN_ROOT | IK_RESOLVE_NO_MAGICLINKS;

static void close_keep_errno(int fd) {
  int saved = errno;
  close(fd);
  errno = saved;
}

/* The part of `path` below the new root ("run/x"), or NULL when it is not below it. */
static const char *below_root(const char *path) {
  if (root_path == NULL || path == NULL || strncmp(path, root_path, root_len) != 0 || path[root_len] != '/')
    return NULL;
  const char *rel = path + root_len;
  while (*rel == '/')
    rel++;
  return *rel ? rel : NULL;
}

/* An fd of `rel` (O_PATH | `flags`) resolved inside the new root. */
static int open_in_root(const char *rel, int flags) {
  if (root_fd < 0) {
    if ((root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
      return -1;
    if (fstat(root_fd, &root_st) < 0) {
      close_keep_errno(root_fd);
      return root_fd = -1;
    }
  }
  /* EAGAIN: a mount or rename anywhere on the host while a path with `..`
   * was resolved (the kernel cannot then vouch for it); try again. */
  for (int tries = 0;; tries++) {
    int fd = ik_openat2(root_fd, rel, O_PATH | O_CLOEXEC | flags, step_resolve);
    if (fd >= 0 || errno != EAGAIN || tries == 16)
      return fd;
  }
}

/* Where a step acts: below the new root `fd`, resolved inside it, and
 * `path` "." for mount(2) once init's working directory is that fd
 * (target_chdir); elsewhere fd -1 and the plan's path. */
struct target {
  int fd;
  const char *path;
};

#define T_DFD(t) ((t)->fd >= 0 ? (t)->fd : AT_FDCWD)
#define T_NAME(t) ((t)->fd >= 0 ? "" : (t)->path)
#define T_AT_EMPTY(t) ((t)->fd >= 0 ? AT_EMPTY_PATH : 0)
#define T_MOVE_EMPTY(t) ((t)->fd >= 0 ? MOVE_MOUNT_T_EMPTY_PATH : 0)

/* Resolves a step's target; -1 with errno (ELOOP: it leads to the new root
 * itself, where a mount would hide the whole tree). */
static int target_open(const char *path, struct target *t) {
  const char *rel = below_root(path);
  t->fd = -1;
  t->path = path;
  if (rel == NULL)
    return 0;
  if ((t->fd = open_in_root(rel, 0)) < 0)
    return -1;
  struct stat st;
  if (fstat(t->fd, &st) < 0) {
    close_keep_errno(t->fd);
    return t->fd = -1;
  }
  if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) {
    close(t->fd);
    t->fd = -1;
    return errno = ELOOP, -1;
  }
  t->path = ".";
  return 0;
}

/* For mount(2), which takes only a path: into the directory resolved, whose
 * path is then "." (cheaper than its /proc/self/fd name, which runc uses;
 * init's working directory matters to nothing else before pivot_root). */
static int target_chdir(const struct target *t) {
  return t->fd >= 0 ? fchdir(t->fd) : 0;
}

static void target_close(struct target *t) {
  if (t->fd >= 0)
    close_keep_errno(t->fd);
  t->fd = -1;
}

/* The directory the last entry was made in (below the new root), for the
 * next: /dev's nodes and links are a dozen steps in a row. Forgotten at
 * every step that mounts (the directory may then be covered). */
static struct {
  int fd;
  uint64_t resolve;
  char rel[256];
} parent_cache = {-1, 0, ""};

static void parent_cache_drop(void) {
  if (parent_cache.fd >= 0)
    close(parent_cache.fd);
  parent_cache.fd = -1;
}

/* The directory a new entry `path` goes in (an fd, or AT_FDCWD) and its
 * name there; below the new root, that directory is resolved inside it. */
static int parent_open(const char *path, int *dfd, const char **name) {
  char buf[4096];
  const char *rel = below_root(path);
  *dfd = AT_FDCWD;
  *name = path;
  if (rel == NULL)
    return 0;
  const char *slash = strrchr(rel, '/');
  const char *dir = ".";
  if (slash != NULL) {
    size_t n = (size_t)(slash - rel);
    if (n >= sizeof buf)
      return errno = ENAMETOOLONG, -1;
    memcpy(buf, rel, n);
    buf[n] = 0;
    dir = buf;
  }
  *name = slash ? slash + 1 : rel;
  if (**name == 0)
    return errno = EINVAL, -1;
  if (parent_cache.fd >= 0 && parent_cache.resolve == step_resolve && strcmp(parent_cache.rel, dir) == 0) {
    *dfd = parent_cache.fd;
    return 0;
  }
  *dfd = open_in_root(dir, O_DIRECTORY);
  if (*dfd < 0)
    return -1;
  if (strlen(dir) < sizeof parent_cache.rel) {
    parent_cache_drop();
    strcpy(parent_cache.rel, dir);
    parent_cache.resolve = step_resolve;
    parent_cache.fd = *dfd;
  }
  return 0;
}

static void parent_close(int dfd) {
  if (dfd >= 0 && dfd != parent_cache.fd)
    close_keep_errno(dfd);
}

/* mkdir of `path` (below the new root: inside it); one that exists will do. */
static int make_dir(const char *path, mode_t mode) {
  int dfd;
  const char *name;
  if (parent_open(path, &dfd, &name) < 0)
    return -1;
  int r = mkdirat(dfd, name, mode) < 0 && errno != EEXIST ? -1 : 0;
  parent_close(dfd);
  return r;
}

/* mkdir -p of the directories above `path`. */
static int make_parents(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf)
    return errno = ENAMETOOLONG, -1;
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; (p = strchr(p, '/')) != NULL; p++) {
    *p = 0;
    int r = make_dir(buf, 0755);
    *p = '/';
    if (r < 0)
      return -1;
  }
  return 0;
}

/* Creates `path` as an empty directory or file to match `like`, unless
 * something is there (whatever it is: the mount then goes where it leads,
 * inside the new root). */
static int make_mountpoint(const char *path, mode_t like) {
  if (make_parents(path) < 0)
    return -1;
  if (S_ISDIR(like))
    return make_dir(path, 0755);
  int dfd;
  const char *name;
  if (parent_open(path, &dfd, &name) < 0)
    return -1;
  /* O_EXCL: never opens what is there (an image's fifo would block). */
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
  int r = fd < 0 && errno != EEXIST ? -1 : 0;
  if (fd >= 0)
    close(fd);
  parent_close(dfd);
  return r;
}

/* The mount `path` leads to: its id (Linux 5.8), device and inode. */
static int mount_of(const char *path, struct statx *sx) {
  return statx(AT_FDCWD, path, 0, STATX_INO | IK_STATX_MNT_ID, sx);
}

static int same_place(const struct statx *a, const struct statx *b) {
  if ((a->stx_mask & b->stx_mask & IK_STATX_MNT_ID) && a->stx_mnt_id != b->stx_mnt_id)
    return 0;
  return a->stx_dev_major == b->stx_dev_major && a->stx_dev_minor == b->stx_dev_minor && a->stx_ino == b->stx_ino;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it
 * leaves no path back to the host tree (runc does the same). Then "/.."
 * must lead where "/" does: a mount left on the new root (one that sat on
 * the old root came along with it) would be reachable from inside as
 * "/..". Such a mount is detached too; should one stay, the start fails. */
static int pivot(const char *new_root) {
  if (chdir(new_root) < 0)
    return -IK_SC_CHDIR;
  if (ik_pivot_root(".", ".") < 0)
    return -IK_SC_PIVOT_ROOT;
  for (int k = 0;; k++) {
    if (umount2(".", MNT_DETACH) < 0)
      return -IK_SC_UMOUNT;
    struct statx top, up;
    if (mount_of("/", &top) < 0 || mount_of("/..", &up) < 0)
      return -IK_SC_STAT;
    if (same_place(&top, &up))
      break;
    if (k == 8)
      return errno = EBUSY, -IK_SC_UMOUNT;
  }
  if (chdir("/") < 0)
    return -IK_SC_CHDIR;
  return 0;
}

/* Clones every bind source while the mount table is still the host's copy:
 * later mounts (the new root lands on an existing host path) can then
 * neither shadow a source nor leak into a recursive clone.
 *
 * A mask's source (/dev/null) is cloned when it is used instead: most
 * masked paths are directories (a tmpfs goes there), and closing a clone
 * that was never mounted makes the kernel wait for an expedited RCU grace
 * period (namespace_unlock), ~30-250 us here each, on the start's path.
 * Its source cannot be shadowed: the plan mounts only under the new root. */
static int pin_sources(const struct ik_plan *plan, uint32_t end, int *trees, struct ik_fail *fail) {
  for (uint32_t i = 0; i < end; i++) {
    const struct ik_op *op = &plan->ops[i];
    if (op->type != IK_OP_BIND)
      continue;
    int rec = (op->flags & IK_F_RECURSIVE) != 0;
    const char *src = ik_plan_str(plan, op->str[0]);
    int fd = ik_open_tree(AT_FDCWD, src,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
    if (fd < 0) {
      if (errno == ENOENT && (op->flags & IK_F_OPTIONAL))
        continue;
      FAIL(i, IK_SC_OPEN_TREE);
    }
    trees[i] = fd;
    if (op->num[0] != 0 &&
        ik_mount_setattr(fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), op->num[0], 0) < 0)
      FAIL(i, IK_SC_MOUNT_SETATTR);
  }
  return 0;
out:
  return -1;
}

/* A clone of `src` (at `dfd`, not recursive) with `attrs` (read-only among
 * them) moved onto `t`. */
static int clone_onto(int dfd, const char *src, unsigned at, uint64_t attrs, const struct target *t) {
  int fd = ik_open_tree(dfd, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | at);
  if (fd < 0)
    return -IK_SC_OPEN_TREE;
  int sc = 0;
  if (ik_mount_setattr(fd, "", AT_EMPTY_PATH, attrs, 0) < 0)
    sc = IK_SC_MOUNT_SETATTR;
  else if (ik_move_mount(fd, "", T_DFD(t), T_NAME(t), MOVE_MOUNT_F_EMPTY_PATH | T_MOVE_EMPTY(t)) < 0)
    sc = IK_SC_MOVE_MOUNT;
  close_keep_errno(fd);
  return sc ? -sc : 0;
}

/* An overlay of the plan's lower dirs (top first), with an upper and work
 * dir or none (then read-only), moved onto `target` with `attrs`. The new
 * mount API takes each layer on its own ("lowerdir+", Linux 6.8), so a stack
 * is not bounded by the one page that mount(2)'s option string may fill
 * (~40 layers of store paths); older kernels get that string. Returns 0 or
 * -IK_SC_* with errno set. */
static int mount_overlay(const struct ik_plan *plan, const struct ik_op *op, const struct target *t) {
  const char *upper = ik_plan_str(plan, op->str[0]);
  const char *work = ik_plan_str(plan, op->str[2]);
  struct ik_list lowers = ik_plan_list(plan, op->num[0]);
  int sc = 0, mfd = -1;
  int fd = ik_fsopen("overlay", FSOPEN_CLOEXEC);
  if (fd < 0)
    return -IK_SC_FSOPEN;
  for (uint32_t k = 0; k < lowers.count; k++) {
    if (ik_fsconfig(fd, IK_FSCONFIG_SET_STRING, "lowerdir+", ik_plan_str(plan, lowers.items[k]), 0) < 0) {
      if (k == 0 && errno == EINVAL)
        goto legacy; /* before Linux 6.8: no "lowerdir+" */
      sc = IK_SC_FSCONFIG;
      goto out;
    }
  }
  if (upper != NULL && (ik_fsconfig(fd, IK_FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
                        ik_fsconfig(fd, IK_FSCONFIG_SET_STRING, "workdir", work, 0) < 0)) {
    sc = IK_SC_FSCONFIG;
    goto out;
  }
  if (ik_fsconfig(fd, IK_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    sc = IK_SC_FSCONFIG;
    goto out;
  }
  mfd = ik_fsmount(fd, FSMOUNT_CLOEXEC, (unsigned)op->num[1]);
  if (mfd < 0) {
    sc = IK_SC_FSMOUNT;
    goto out;
  }
  if (ik_move_mount(mfd, "", T_DFD(t), T_NAME(t), MOVE_MOUNT_F_EMPTY_PATH | T_MOVE_EMPTY(t)) < 0)
    sc = IK_SC_MOVE_MOUNT;
  goto out;

legacy: {
  /* "lowerdir=a:b:c,upperdir=u,workdir=w" in one page. */
  static char data[4096];
  size_t n = 0;
  int w = snprintf(data, sizeof data, "lowerdir=");
  n = (size_t)w;
  for (uint32_t k = 0; k < lowers.count && n < sizeof data; k++)
    n += (size_t)snprintf(data + n, sizeof data - n, "%s%s", k ? ":" : "", ik_plan_str(plan, lowers.items[k]));
  if (upper != NULL && n < sizeof data)
    n += (size_t)snprintf(data + n, sizeof data - n, ",upperdir=%s,workdir=%s", upper, work);
  if (n >= sizeof data) {
    errno = E2BIG;
    sc = IK_SC_MOUNT;
    goto out;
  }
  unsigned long flags = 0;
  if (op->num[1] & MOUNT_ATTR_RDONLY)
    flags |= MS_RDONLY;
  if (op->num[1] & MOUNT_ATTR_NOSUID)
    flags |= MS_NOSUID;
  if (op->num[1] & MOUNT_ATTR_NODEV)
    flags |= MS_NODEV;
  if (target_chdir(t) < 0 || mount("overlay", t->path, "overlay", flags, data) < 0)
    sc = IK_SC_MOUNT;
}

out: {
  int saved = errno;
  if (mfd >= 0)
    close(mfd);
  close(fd);
  errno = saved;
}
  return sc ? -sc : 0;
}

int ik_setup_held_fd = -1;
int ik_setup_guard_fd = -1;

/* The root of the first masked directory's tmpfs (O_PATH), for the others:
 * they get clones of that one mount, not a tmpfs each. Every tmpfs is a
 * superblock, and every superblock a memcg-aware shrinker, and the most of
 * those the host ever had at once sizes an array that every memory cgroup
 * made after it allocates and walks (docs/cgroup-cost.md, "The host's
 * part"): a host with all of runc's masked directories mounted five per
 * container. Empty, read-only, size 0 and one inode: sharing it shares
 * nothing. */
static int mask_dir_fd = -1;

/* Masks the directory `t` (the plan's path `path`): a clone of the mask
 * mount when there is one, else a new tmpfs, which becomes it. */
static int mask_dir(const char *path, struct target *t) {
  if (mask_dir_fd >= 0)
    return clone_onto(mask_dir_fd, "", AT_EMPTY_PATH,
                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, t);
  if (target_chdir(t) < 0)
    return -IK_SC_CHDIR;
  if (mount("tmpfs", t->path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,nr_inodes=1,mode=0555") < 0)
    return -IK_SC_MOUNT;
  /* Resolved again, the path now ends on the new mount's root. */
  const char *rel = below_root(path);
  mask_dir_fd = rel ? open_in_root(rel, O_DIRECTORY) : open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  /* Without it, the next masks make a tmpfs each, as before: no failure. */
  return 0;
}

static int run_op(const struct ik_plan *plan, uint32_t i, int tree, struct ik_fail *fail) {
  const struct ik_op *op = &plan->ops[i];
  const char *s0 = ik_plan_str(plan, op->str[0]);
  const char *s1 = ik_plan_str(plan, op->str[1]);
  struct target t = {.fd = -1};
  struct stat st;
  int r, dfd;
  const char *name;
  if (op->type != IK_OP_MKDIR && op->type != IK_OP_MKNOD && op->type != IK_OP_SYMLINK)
    parent_cache_drop();
  step_resolve = IK_RESOLVE_IN_ROOT | IK_RESOLVE_NO_MAGICLINKS |
                 (op->flags & IK_F_NO_SYMLINKS ? IK_RESOLVE_NO_SYMLINKS : 0);
  switch (op->type) {
  case IK_OP_BIND:
    if (tree < 0)
      return 0; /* optional source that does not exist */
    if (op->flags & (IK_F_MKDIR | IK_F_MKFILE)) {
      if (fstat(tree, &st) < 0)
        FAIL(i, IK_SC_STAT);
      if (make_mountpoint(s1, st.st_mode) < 0)
        FAIL(i, S_ISDIR(st.st_mode) ? IK_SC_MKDIR : IK_SC_OPEN);
    }
    if (target_open(s1, &t) < 0)
      FAIL(i, IK_SC_OPEN);
    if (ik_move_mount(tree, "", T_DFD(&t), T_NAME(&t), MOVE_MOUNT_F_EMPTY_PATH | T_MOVE_EMPTY(&t)) < 0)
      FAIL(i, IK_SC_MOVE_MOUNT);
    break;
  case IK_OP_MOUNT:
    if ((op->flags & IK_F_MKDIR) && (make_parents(s1) < 0 || make_dir(s1, 0755) < 0))
      FAIL(i, IK_SC_MKDIR);
    if (target_open(s1, &t) < 0)
      FAIL(i, IK_SC_OPEN);
    if (target_chdir(&t) < 0)
      FAIL(i, IK_SC_CHDIR);
    if (mount(s0 ? s0 : "none", t.path, ik_plan_str(plan, op->str[2]), (unsigned long)op->num[0],
              ik_plan_str(plan, op->str[3])) < 0)
      FAIL(i, IK_SC_MOUNT);
    break;
  case IK_OP_MASK:
    if (target_open(s1, &t) < 0 || (t.fd >= 0 ? fstat(t.fd, &st) : stat(t.path, &st)) < 0) {
      if (errno == ENOENT || errno == ENOTDIR)
        break;
      FAIL(i, IK_SC_STAT);
    }
    if ((r = S_ISDIR(st.st_mode) ? mask_dir(s1, &t)
                                 : clone_onto(AT_FDCWD, s0, 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, &t)) < 0)
      FAIL(i, (uint32_t)-r);
    break;
  case IK_OP_READONLY: {
    int rec = (op->flags & IK_F_RECURSIVE) != 0;
    if (target_open(s1, &t) < 0) {
      if (errno == ENOENT && !(op->flags & IK_F_INPLACE))
        break;
      FAIL(i, IK_SC_OPEN);
    }
    if (op->flags & IK_F_INPLACE) {
      /* A mount point already (the new root): change it, keep what is mounted on it. */
      if (ik_mount_setattr(T_DFD(&t), T_NAME(&t), T_AT_EMPTY(&t) | (rec ? AT_RECURSIVE : 0),
                           MOUNT_ATTR_RDONLY | op->num[0], 0) < 0)
        FAIL(i, IK_SC_MOUNT_SETATTR);
      break;
    }
    int fd = ik_open_tree(T_DFD(&t), T_NAME(&t),
                          T_AT_EMPTY(&t) | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (rec ? AT_RECURSIVE : 0));
    if (fd < 0) {
      if (errno == ENOENT)
        break;
      FAIL(i, IK_SC_OPEN_TREE);
    }
    r = ik_mount_setattr(fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0),
                         MOUNT_ATTR_RDONLY | op->num[0], 0);
    if (r == 0)
      r = ik_move_mount(fd, "", T_DFD(&t), T_NAME(&t), MOVE_MOUNT_F_EMPTY_PATH | T_MOVE_EMPTY(&t));
    close_keep_errno(fd);
    if (r < 0)
      FAIL(i, IK_SC_MOUNT_SETATTR);
    break;
  }
  case IK_OP_MKDIR:
    if (make_dir(s1, (mode_t)op->num[0]) < 0)
      FAIL(i, IK_SC_MKDIR);
    break;
  case IK_OP_MKNOD:
    if (parent_open(s1, &dfd, &name) < 0)
      FAIL(i, IK_SC_OPEN);
    r = mknodat(dfd, name, (mode_t)op->num[0], (dev_t)op->num[1]);
    parent_close(dfd);
    if (r < 0)
      FAIL(i, IK_SC_MKNOD);
    break;
  case IK_OP_SYMLINK:
    if (parent_open(s1, &dfd, &name) < 0)
      FAIL(i, IK_SC_OPEN);
    r = symlinkat(s0, dfd, name);
    parent_close(dfd);
    if (r < 0)
      FAIL(i, IK_SC_SYMLINK);
    break;
  case IK_OP_OVERLAY:
    if (target_open(s1, &t) < 0)
      FAIL(i, IK_SC_OPEN);
    r = mount_overlay(plan, op, &t);
    if (r < 0)
      FAIL(i, (uint32_t)-r);
    break;
  case IK_OP_HOLD:
    /* Close-on-exec: the payload never has it (and init, not dumpable,
     * cannot be reached through /proc/1/fd). main.c sends it and closes it. */
    if (ik_setup_held_fd >= 0)
      close(ik_setup_held_fd);
    ik_setup_held_fd = below_root(s1) ? open_in_root(below_root(s1), O_DIRECTORY)
                                      : open(s1, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ik_setup_held_fd < 0)
      FAIL(i, IK_SC_OPEN);
    break;
  case IK_OP_PIVOT_ROOT:
    r = pivot(s1);
    if (r < 0)
      FAIL(i, (uint32_t)-r);
    return 0;
  case IK_OP_HOSTNAME:
    if (sethostname(s0, strlen(s0)) < 0)
      FAIL(i, IK_SC_SETHOSTNAME);
    return 0;
  case IK_OP_UNSHARE:
    if (unshare((int)op->num[0]) < 0)
      FAIL(i, IK_SC_UNSHARE);
    return 0;
  case IK_OP_LOOPBACK: {
    int sc = IK_SC_IOCTL;
    if (ik_netns_prepare(&sc) < 0)
      FAIL(i, (uint32_t)sc);
    return 0;
  }
  case IK_OP_DENY_USERNS:
    if (ik_deny_user_namespaces(&ik_setup_guard_fd, op->num[0] != 0) < 0)
      FAIL(i, IK_SC_SECCOMP);
    return 0;
  case IK_OP_LANDLOCK:
    if (ik_landlock_scope((int)op->num[0]) < 0)
      FAIL(i, IK_SC_LANDLOCK);
    return 0;
  case IK_OP_SESSION_KEYRING:
    /* Anonymous (no name): nothing else can join it, and it goes with the
     * container's last process. ENOSYS: a kernel without keys; EPERM: a
     * seccomp filter Node itself runs under refuses keyctl, to every
     * process here too. Either way no process here reaches a keyring. */
    if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS && errno != EPERM)
      FAIL(i, IK_SC_KEYCTL);
    return 0;
  default:
    errno = EINVAL;
    FAIL(i, IK_SC_PLAN);
  }
  target_close(&t);
  if (op->type != IK_OP_MKDIR && op->type != IK_OP_MKNOD && op->type != IK_OP_SYMLINK)
    parent_cache_drop(); /* (it may have mounted on a directory in it) */
  /* A step on the new root itself changed what is mounted there. */
  if (root_fd >= 0 && s1 != NULL && root_path != NULL && strcmp(s1, root_path) == 0) {
    close(root_fd);
    root_fd = -1;
  }
  return 0;
out:
  target_close(&t);
  return -1;
}

int ik_setup_container(const struct ik_plan *plan, uint32_t end, struct ik_fail *fail) {
  int ret = -1;
  int *trees = NULL;
  long first_fs = -1;
  for (uint32_t i = 0; i < end && first_fs < 0; i++)
    if (is_fs_op(plan->ops[i].type))
      first_fs = i;

  if (first_fs >= 0) {
    struct stat st;
    if (stat("/proc/self/ns/mnt", &st) < 0)
      FAIL((uint32_t)first_fs, IK_SC_NS_CHECK);
    if (plan->spawn.host_mntns_ino == 0 ||
        (st.st_dev == plan->spawn.host_mntns_dev && st.st_ino == plan->spawn.host_mntns_ino)) {
      errno = EPERM;
      FAIL((uint32_t)first_fs, IK_SC_NS_CHECK);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
      FAIL((uint32_t)first_fs, IK_SC_MOUNT);
  }

  /* The new root (see root_path): the last PIVOT_ROOT's. */
  for (uint32_t i = 0; i < end; i++)
    if (plan->ops[i].type == IK_OP_PIVOT_ROOT && (root_path = ik_plan_str(plan, plan->ops[i].str[1])) != NULL)
      root_len = strlen(root_path);

  trees = malloc((end ? end : 1) * sizeof *trees);
  if (trees == NULL) {
    errno = ENOMEM;
    FAIL(0, IK_SC_PLAN);
  }
  for (uint32_t i = 0; i < end; i++)
    trees[i] = -1;
  if (pin_sources(plan, end, trees, fail) < 0)
    goto out;
  for (uint32_t i = 0; i < end; i++) {
    struct timespec t0, t1;
    if (plan->flags & IK_PLAN_F_TRACE)
      clock_gettime(CLOCK_MONOTONIC, &t0);
    if (run_op(plan, i, trees[i], fail) < 0)
      goto out;
    if (plan->flags & IK_PLAN_F_TRACE) {
      clock_gettime(CLOCK_MONOTONIC, &t1);
      char line[96];
      int n = snprintf(line, sizeof line, "isolate-kit-init: step %u (op %u) %ld us\n", i, plan->ops[i].type,
                       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
      if (n > 0 && write(2, line, (size_t)n) < 0) {
        /* tracing is best effort */
      }
    }
  }
  ret = 0;
out:
  parent_cache_drop();
  if (root_fd >= 0) {
    close(root_fd);
    root_fd = -1;
  }
  if (mask_dir_fd >= 0) {
    close(mask_dir_fd);
    mask_dir_fd = -1;
  }
  if (trees != NULL) {
    for (uint32_t i = 0; i < end; i++)
      if (trees[i] >= 0)
        close(trees[i]);
    free(trees);
  }
  return ret;
}
