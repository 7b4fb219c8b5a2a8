/* Real-kernel check of csrc/cgroup_devices.c. Run as root:
 *
 *   gcc -std=gnu11 -Wall -Wextra -static -Icsrc -o /tmp/device_filter_check \
 *       test/native/device_filter_check.c csrc/cgroup_devices.c
 *   /tmp/device_filter_check [V2_ROOT [BLOCK_DEV]]
 *
 * V2_ROOT defaults to /sys/fs/cgroup/unified (hybrid host), BLOCK_DEV to
 * /dev/loop0 (this host's kernel refuses to open its /dev/vda even for root
 * in the root cgroup, so it cannot show an allowed open; a baseline check
 * below makes sure BLOCK_DEV opens when unfiltered). Creates V2_ROOT/isolate-kit/devtest-<pid> (only there), moves a
 * long-lived child into it, and swaps filters under the running child, which
 * tries device accesses after each swap. Exit 0 only if every check passes. */
#define _GNU_SOURCE
#include "cgroup_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *blk;
static char tmpdir[64] = "/tmp/ik-devtest-XXXXXX";
static int failures;
static int to_child[2], from_child[2];


static void check(const char *what, int ok, int err) {
  printf("  [%s] %s%s%s\n", ok ? "PASS" : "FAIL", what, ok ? "" : ": got ", ok ? "" : strerror(err));
  fflush(stdout);
  if (!ok)
    failures++;
}

/* Has the child (in the test cgroup) run its checks for `phase`. */
static void run_phase(int phase) {
  unsigned char ph = (unsigned char)phase, f = 255;
  if (write(to_child[1], &ph, 1) != 1 || read(from_child[0], &f, 1) != 1)
    check("child answered", 0, errno);
  else
    failures += f; /* the child printed its own FAIL lines */
}

/* expect_errno 0: the open must succeed; else it must fail with that errno. */
static void try_open(const char *path, int flags, int expect_errno) {
  char what[160];
  snprintf(what, sizeof(what), "open %s %s -> %s", path,
           flags == O_RDONLY ? "O_RDONLY" : flags == O_WRONLY ? "O_WRONLY" : "O_RDWR",
           expect_errno ? strerror(expect_errno) : "ok");
  int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);
  int e = fd < 0 ? errno : 0;
  if (fd >= 0)
    close(fd);
  check(what, fd < 0 ? e == expect_errno : expect_errno == 0, e);
}

static void try_mknod(int expect_errno) {
  char path[96], what[160];
  snprintf(path, sizeof(path), "%s/null", tmpdir);
  snprintf(what, sizeof(what), "mknod c 1:3 in %s -> %s", tmpdir,
           expect_errno ? strerror(expect_errno) : "ok");
  int r = mknod(path, S_IFCHR | 0600, makedev(1, 3));
  int e = r < 0 ? errno : 0;
  if (r == 0)
    unlink(path);
  check(what, r < 0 ? e == expect_errno : expect_errno == 0, e);
}

/* Runs in the child (inside the filtered cgroup) for each phase. */
static void child_phase(int phase) {
  switch (phase) {
  case 1: /* c 1:3 rw, c 1:5 r */
    try_open("/dev/null", O_RDWR, 0);
    try_open("/dev/zero", O_RDONLY, 0);
    try_open("/dev/zero", O_WRONLY, EPERM);
    try_open(blk, O_RDONLY, EPERM);
    try_mknod(EPERM);
    break;
  case 2: /* update: + b MAJ:MIN r */
    try_open(blk, O_RDONLY, 0);
    try_open(blk, O_WRONLY, EPERM);
    try_open("/dev/null", O_RDWR, 0);
    try_open("/dev/zero", O_WRONLY, EPERM);
    break;
  case 3: /* no rules */
    try_open("/dev/null", O_RDONLY, EPERM);
    try_open("/dev/zero", O_RDONLY, EPERM);
    break;
  case 4: /* c *:* rw */
    try_open("/dev/null", O_RDWR, 0);
    try_open("/dev/zero", O_RDWR, 0);
    try_open(blk, O_RDONLY, EPERM);
    try_mknod(EPERM);
    break;
  case 5: /* a *:* rwm */
    try_open(blk, O_RDONLY, 0);
    try_mknod(0);
    break;
  case 6: /* ours allows c 1:3 rw; a foreign deny-all MULTI program is attached too */
    try_open("/dev/null", O_RDWR, EPERM);
    break;
  case 7: { /* race: parent keeps swapping two filters that both allow /dev/null
             * rw and both deny /dev/zero w; neither result may ever flip */
    long bad_null = 0, bad_zero = 0, n = 0;
    struct pollfd stop = {.fd = to_child[0], .events = POLLIN};
    for (;; n++) { /* until the parent's "stop" byte: overlaps every update */
      if (n % 64 == 0 && poll(&stop, 1, 0) == 1) {
        unsigned char b;
        (void)!read(to_child[0], &b, 1); /* the stop byte */
        break;
      }
      int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
      if (fd < 0)
        bad_null++;
      else
        close(fd);
      fd = open("/dev/zero", O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        bad_zero++;
        close(fd);
      }
    }
    char what[160];
    snprintf(what, sizeof(what), "during updates: /dev/null rw denied %ld/%ld times", bad_null, n);
    check(what, bad_null == 0, EPERM);
    snprintf(what, sizeof(what), "during updates: /dev/zero w allowed %ld/%ld times", bad_zero, n);
    check(what, bad_zero == 0, 0);
    break;
  }
  }
}

static int attached_count_id(int cg, uint32_t *first_id, uint32_t *flags) {
  uint32_t ids[64];
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.query.target_fd = (uint32_t)cg;
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = (uint64_t)(uintptr_t)ids;
  a.query.prog_cnt = 64;
  if (syscall(__NR_bpf, BPF_PROG_QUERY, &a, sizeof(a)) < 0)
    return -errno;
  if (first_id)
    *first_id = a.query.prog_cnt ? ids[0] : 0;
  if (flags)
    *flags = a.query.attach_flags;
  return (int)a.query.prog_cnt;
}

static int attached_count(int cg) { return attached_count_id(cg, NULL, NULL); }

/* Attaches a trivial "return ret" device program the way some other manager
 * might; returns 0 or -errno. */
static int attach_foreign(int cg, int ret, unsigned flags) {
  struct bpf_insn prog[2];
  memset(prog, 0, sizeof(prog));
  prog[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  prog[0].dst_reg = BPF_REG_0;
  prog[0].imm = ret;
  prog[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = (uint64_t)(uintptr_t)prog;
  a.insn_cnt = 2;
  a.license = (uint64_t)(uintptr_t)"GPL";
  int fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
  if (fd < 0)
    return -errno;
  memset(&a, 0, sizeof(a));
  a.target_fd = (uint32_t)cg;
  a.attach_bpf_fd = (uint32_t)fd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = flags;
  int rc = syscall(__NR_bpf, BPF_PROG_ATTACH, &a, sizeof(a)) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

int main(int argc, char **argv) {
  const char *root = argc > 1 ? argv[1] : "/sys/fs/cgroup/unified";
  blk = argc > 2 ? argv[2] : "/dev/loop0";
  char base[256], cgdir[300], procs[320];
  struct stat st;
  if (stat(blk, &st) < 0 || !S_ISBLK(st.st_mode)) {
    fprintf(stderr, "%s: not a block device\n", blk);
    return 2;
  }
  int64_t bmaj = major(st.st_rdev), bmin = minor(st.st_rdev);
  printf("v2 root %s, block device %s = b %lld:%lld\n", root, blk, (long long)bmaj, (long long)bmin);

  snprintf(base, sizeof(base), "%s/isolate-kit", root);
  snprintf(cgdir, sizeof(cgdir), "%s/devtest-%d", base, (int)getpid());
  snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgdir);
  if ((mkdir(base, 0755) < 0 && errno != EEXIST) || mkdir(cgdir, 0755) < 0) {
    perror("mkdir test cgroup");
    return 2;
  }
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    rmdir(cgdir);
    return 2;
  }
  int cg = open(cgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  /* Baseline, unfiltered (we are not in the test cgroup): otherwise an EPERM
   * below could come from somewhere else and a check pass vacuously. */
  printf("baseline (outside the test cgroup):\n");
  try_open("/dev/null", O_RDWR, 0);
  try_open("/dev/zero", O_RDWR, 0);
  try_open(blk, O_RDONLY, 0);
  fflush(stdout); /* or the child would print the buffered header again */
  if (cg < 0 || pipe(to_child) < 0 || pipe(from_child) < 0) {
    perror("setup");
    return 2;
  }
  pid_t pid = fork();
  if (pid == 0) { /* child: run the phase the parent names, report failures */
    close(to_child[1]);
    close(from_child[0]);
    unsigned char ph;
    while (read(to_child[0], &ph, 1) == 1 && ph != 0) {
      failures = 0;
      child_phase(ph);
      unsigned char f = (unsigned char)failures;
      if (write(from_child[1], &f, 1) != 1)
        _exit(3);
    }
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);

  /* Move the child in (the parent stays outside so the filter never hits it). */
  int pfd = open(procs, O_WRONLY | O_CLOEXEC);
  char buf[32];
  int len = snprintf(buf, sizeof(buf), "%d", (int)pid);
  int moved = pfd >= 0 && write(pfd, buf, (size_t)len) == len;
  check("move child into test cgroup", moved, errno);
  if (pfd >= 0)
    close(pfd);

  const struct ik_dev_rule r1[] = {{'c', 1, 3, IK_DEV_READ | IK_DEV_WRITE}, {'c', 1, 5, IK_DEV_READ}};
  const struct ik_dev_rule r2[] = {r1[0], r1[1], {'b', bmaj, bmin, IK_DEV_READ}};
  const struct ik_dev_rule r4[] = {{'c', -1, -1, IK_DEV_READ | IK_DEV_WRITE}};
  const struct ik_dev_rule r5[] = {{'a', -1, -1, IK_DEV_READ | IK_DEV_WRITE | IK_DEV_MKNOD}};
  struct {
    const char *name;
    const struct ik_dev_rule *rules;
    size_t n;
  } phases[] = {
      {"c 1:3 rw, c 1:5 r", r1, 2},
      {"update: + b MAJ:MIN r", r2, 3},
      {"0 rules (deny all)", NULL, 0},
      {"wildcard c *:* rw", r4, 1},
      {"wildcard a *:* rwm", r5, 1},
  };
  for (unsigned i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
    printf("phase %u: %s\n", i + 1, phases[i].name);
    int rc = ik_cgroup_set_device_filter(cg, phases[i].rules, phases[i].n);
    check("ik_cgroup_set_device_filter returns 0", rc == 0, -rc);
    int c = attached_count(cg);
    check("exactly 1 program attached (old one replaced)", c == 1, c < 0 ? -c : 0);
    run_phase(i + 1);
  }

  printf("phase 6: AND semantics: ours (c 1:3 rw) + foreign deny-all MULTI program\n");
  int rc = ik_cgroup_set_device_filter(cg, r1, 2);
  check("ik_cgroup_set_device_filter returns 0", rc == 0, -rc);
  int frc = attach_foreign(cg, 0, BPF_F_ALLOW_MULTI);
  check("attach foreign deny-all program (ALLOW_MULTI)", frc == 0, -frc);
  check("2 programs attached", attached_count(cg) == 2, 0);
  run_phase(6);
  rc = ik_cgroup_set_device_filter(cg, r1, 2);
  check("set again returns 0", rc == 0, -rc);
  check("foreign program detached: exactly 1 attached", attached_count(cg) == 1, 0);
  run_phase(1);

  printf("phase 7: 2000 updates while the child opens devices\n");
  const struct ik_dev_rule ra[] = {{'c', 1, 3, IK_DEV_READ | IK_DEV_WRITE}, {'c', 1, 7, IK_DEV_READ}};
  const struct ik_dev_rule rb[] = {{'c', 1, 8, IK_DEV_READ}, {'c', 1, 3, IK_DEV_READ | IK_DEV_WRITE}};
  unsigned char ph = 7;
  if (write(to_child[1], &ph, 1) != 1)
    check("child answered", 0, errno);
  int set_fail = 0;
  for (int k = 0; k < 2000; k++)
    if (ik_cgroup_set_device_filter(cg, k & 1 ? ra : rb, 2) != 0)
      set_fail++;
  check("2000 updates return 0", set_fail == 0, 0);
  unsigned char f = 255, stop = 1;
  if (write(to_child[1], &stop, 1) != 1)
    check("stop child", 0, errno);
  if (read(from_child[0], &f, 1) != 1 || f)
    failures += f ? f : 1;
  check("exactly 1 program attached", attached_count(cg) == 1, 0);

  /* A program someone else attached without BPF_F_ALLOW_MULTI (in an empty
   * second cgroup): the kernel forbids a MULTI program next to it and
   * changing a cgroup's attach flags while anything is attached, so the set
   * must swap it in that mode, atomically. */
  printf("phase 8: replacing a foreign program attached without ALLOW_MULTI (%s-nomulti)\n", cgdir);
  char cgdir2[320];
  snprintf(cgdir2, sizeof(cgdir2), "%s-nomulti", cgdir);
  int cg2 = mkdir(cgdir2, 0755) == 0 ? open(cgdir2, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  check("create second test cgroup", cg2 >= 0, errno);
  if (cg2 >= 0) {
    uint32_t id1 = 0, id2 = 0, fl = 99;
    frc = attach_foreign(cg2, 1, 0);
    check("attach foreign allow-all program (flags 0)", frc == 0, -frc);
    check("1 program attached", attached_count_id(cg2, &id1, NULL) == 1, 0);
    rc = ik_cgroup_set_device_filter(cg2, r1, 2);
    check("ik_cgroup_set_device_filter returns 0", rc == 0, -rc);
    check("exactly 1 program attached, a different one, still flags 0",
          attached_count_id(cg2, &id2, &fl) == 1 && id2 != id1 && fl == 0, 0);
    close(cg2);
    check("rmdir second test cgroup", rmdir(cgdir2) == 0, errno);
  }

  printf("errors:\n");
  const struct ik_dev_rule bad[] = {{'x', 1, 3, IK_DEV_READ}};
  check("bad rule type -> -EINVAL", ik_cgroup_set_device_filter(cg, bad, 1) == -EINVAL, 0);
  const struct ik_dev_rule big[] = {{'c', 1LL << 32, 3, IK_DEV_READ}};
  check("major out of range -> -EINVAL", ik_cgroup_set_device_filter(cg, big, 1) == -EINVAL, 0);
  check("still exactly 1 program attached", attached_count(cg) == 1, 0);
  check("bad fd -> -EBADF", ik_cgroup_set_device_filter(-1, r1, 2) == -EBADF, 0);

  unsigned char quit = 0;
  if (write(to_child[1], &quit, 1) != 1)
    perror("write");
  int status = 0;
  waitpid(pid, &status, 0);
  check("child exited 0", WIFEXITED(status) && WEXITSTATUS(status) == 0, 0);
  close(cg);
  rmdir(tmpdir);
  /* The attached program goes away with the cgroup. */
  check("rmdir test cgroup", rmdir(cgdir) == 0, errno);
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "ALL PASSED", failures);
  return failures ? 1 : 0;
}
