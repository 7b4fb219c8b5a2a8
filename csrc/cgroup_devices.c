/* cgroup v2 device filter: a hand-assembled BPF_PROG_TYPE_CGROUP_DEVICE
 * program attached with raw bpf(2) (no libbpf: one tiny, fixed-shape program
 * does not justify the dependency).
 *
 * Kernel semantics this file relies on (kernel/bpf/cgroup.c,
 * bpf_prog_run_array_cg(); include/uapi/linux/bpf.h attach-flag comment):
 *  - For a device access the kernel runs EVERY program in the cgroup's
 *    effective array (the cgroup's own BPF_F_ALLOW_MULTI programs, then its
 *    ancestors'), "regardless of return code from earlier programs", and the
 *    access gets -EPERM if ANY of them returns 0. So multiple attached device
 *    programs are ANDed: the access must be allowed by all of them.
 *  - A cgroup holds at most BPF_CGROUP_MAX_PROGS (64) programs per type. */
#define _GNU_SOURCE
#include "cgroup_devices.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_ATTACHED 64 /* kernel's BPF_CGROUP_MAX_PROGS */
#define MAX_INSNS_PER_RULE 8 /* type, major, minor: 1 each; access: 3; allow: 2 */
#define ACC_ALL (IK_DEV_MKNOD | IK_DEV_READ | IK_DEV_WRITE)

static int sys_bpf(int cmd, union bpf_attr *attr) {
  /* sizeof(*attr) is the size of the headers we compiled against; the kernel
   * accepts a larger union as long as the tail it does not know is zero. */
  return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

/* Register use: R1 = ctx (on entry), R2 = device type, R3 = requested
 * access bits, R4 = major, R5 = minor, R0 = scratch / return value. */
#define LDX_W(dst, field) \
  insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, field), 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JNE_IMM(dst, imm, off) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
#define RET(v) ALU32_IMM(BPF_MOV, BPF_REG_0, v), insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Appends the instructions for one rule at p; returns how many. Every
 * mismatch jumps to the end of the rule's block (the next rule). */
static size_t emit_rule(struct bpf_insn *p, const struct ik_dev_rule *r) {
  struct bpf_insn b[MAX_INSNS_PER_RULE];
  size_t k = 0;
  /* Jump offsets are patched to "end of block" once the block length is known;
   * a BPF jump offset counts from the instruction after the jump. */
  size_t jumps[4], nj = 0;
  if (r->type != 'a') {
    jumps[nj++] = k;
    b[k++] = JNE_IMM(BPF_REG_2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
  }
  if (r->major >= 0) {
    jumps[nj++] = k;
    b[k++] = JNE_IMM(BPF_REG_4, (int32_t)r->major, 0);
  }
  if (r->minor >= 0) {
    jumps[nj++] = k;
    b[k++] = JNE_IMM(BPF_REG_5, (int32_t)r->minor, 0);
  }
  if ((r->access & ACC_ALL) != ACC_ALL) {
    /* Match only if no requested bit is outside the rule: (acc & ~rule) == 0. */
    b[k++] = MOV32_REG(BPF_REG_0, BPF_REG_3);
    b[k++] = ALU32_IMM(BPF_AND, BPF_REG_0, (int32_t)(~r->access & ACC_ALL));
    jumps[nj++] = k;
    b[k++] = JNE_IMM(BPF_REG_0, 0, 0);
  }
  struct bpf_insn allow[] = {RET(1)};
  b[k++] = allow[0];
  b[k++] = allow[1];
  for (size_t j = 0; j < nj; j++)
    b[jumps[j]].off = (int16_t)(k - jumps[j] - 1);
  memcpy(p, b, k * sizeof(*b));
  return k;
}

static int valid_rule(const struct ik_dev_rule *r) {
  /* Numbers go into a 32-bit immediate that the JNE sign-extends to 64 bits,
   * so only 0..INT32_MAX compare correctly (real majors are 12 bits, minors
   * 20 bits). */
  return (r->type == 'a' || r->type == 'b' || r->type == 'c') &&
         r->major >= -1 && r->major <= INT32_MAX && r->minor >= -1 && r->minor <= INT32_MAX &&
         (r->access & ~ACC_ALL) == 0;
}

static int load_prog(const struct bpf_insn *prog, size_t cnt) {
  union bpf_attr a;
  char *log = NULL;
  int fd, err = 0;
  for (int attempt = 0; attempt < 8; attempt++) {
    memset(&a, 0, sizeof(a));
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = (uint64_t)(uintptr_t)prog;
    a.insn_cnt = (uint32_t)cnt;
    a.license = (uint64_t)(uintptr_t)"GPL"; /* not required for this type */
    memcpy(a.prog_name, "ik_devices", sizeof("ik_devices")); /* shows in bpftool */
    if (log) {
      a.log_buf = (uint64_t)(uintptr_t)log;
      a.log_size = 1 << 16;
      a.log_level = 1;
    }
    fd = sys_bpf(BPF_PROG_LOAD, &a);
    if (fd >= 0)
      break;
    if (errno == EINTR || errno == EAGAIN)
      continue; /* verifier interrupted by a signal: libbpf retries too */
    if (log || (errno != EACCES && errno != EINVAL))
      break;
    /* Rejected by the verifier: load once more with a log so it can be seen
     * (IK_BPF_DEBUG=1), but report the first errno, not the log's ENOSPC. */
    err = errno;
    log = calloc(1, 1 << 16);
    if (!log)
      break;
  }
  if (fd < 0 && log && getenv("IK_BPF_DEBUG"))
    fprintf(stderr, "isolate-kit: device filter rejected by verifier:\n%s\n", log);
  if (fd < 0 && !err)
    err = errno;
  free(log);
  return fd >= 0 ? fd : -err;
}

int ik_cgroup_set_device_filter(int cgroup_fd, const struct ik_dev_rule *rules, size_t n) {
  if (n > ((size_t)1 << 20) || (n && !rules))
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!valid_rule(&rules[i]))
      return -EINVAL;

  /* Program: decode the context, try each rule (match -> return 1), else 0. */
  struct bpf_insn head[] = {
      LDX_W(BPF_REG_2, access_type),
      MOV32_REG(BPF_REG_3, BPF_REG_2),
      ALU32_IMM(BPF_AND, BPF_REG_2, 0xFFFF), /* type: BPF_DEVCG_DEV_* */
      ALU32_IMM(BPF_RSH, BPF_REG_3, 16),     /* access: BPF_DEVCG_ACC_* */
      LDX_W(BPF_REG_4, major),
      LDX_W(BPF_REG_5, minor),
  };
  struct bpf_insn deny[] = {RET(0)};
  size_t cnt = sizeof(head) / sizeof(head[0]);
  struct bpf_insn *prog = malloc((cnt + n * MAX_INSNS_PER_RULE + 2) * sizeof(*prog));
  if (!prog)
    return -ENOMEM;
  memcpy(prog, head, sizeof(head));
  int open_end = 1;
  for (size_t i = 0; i < n && open_end; i++) {
    cnt += emit_rule(prog + cnt, &rules[i]);
    /* A rule with no condition always returns: the verifier rejects the
     * unreachable code after it (EINVAL), so emit nothing more. */
    open_end = !(rules[i].type == 'a' && rules[i].major < 0 && rules[i].minor < 0 &&
                 rules[i].access == ACC_ALL);
  }
  if (open_end) {
    prog[cnt++] = deny[0];
    prog[cnt++] = deny[1];
  }
  int prog_fd = load_prog(prog, cnt);
  free(prog);
  if (prog_fd < 0)
    return prog_fd;

  /* Which programs are attached now? Queried BEFORE attaching ours so we only
   * ever detach programs that existed before this call: two concurrent calls
   * can then at worst leave both new programs attached (AND = stricter), never
   * detach each other's and leave the cgroup unfiltered. */
  uint32_t ids[MAX_ATTACHED];
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.query.target_fd = (uint32_t)cgroup_fd;
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = (uint64_t)(uintptr_t)ids;
  a.query.prog_cnt = MAX_ATTACHED;
  if (sys_bpf(BPF_PROG_QUERY, &a) < 0) {
    int e = errno;
    close(prog_fd);
    return -e;
  }
  uint32_t old_cnt = a.query.prog_cnt;
  uint32_t flags = BPF_F_ALLOW_MULTI;
  if (old_cnt > 0 && !(a.query.attach_flags & BPF_F_ALLOW_MULTI)) {
    /* A single program attached without ALLOW_MULTI (not by us). The kernel
     * refuses a MULTI program next to it and refuses to change a cgroup's
     * attach flags while anything is attached, so converting would need an
     * unfiltered window. Attaching with the same flags swaps it atomically
     * instead; the cgroup then stays in that mode (with flags 0, sub-cgroups
     * cannot get device programs of their own). */
    flags = a.query.attach_flags;
    old_cnt = 0;
  }

  /* Attach the new program first, then detach the old ones: while both are
   * attached an access must pass both (AND), so the overlap is only stricter
   * than either filter, never a window where anything is allowed. (This also
   * works on kernels older than 5.6, which lack BPF_F_REPLACE.) */
  memset(&a, 0, sizeof(a));
  a.target_fd = (uint32_t)cgroup_fd;
  a.attach_bpf_fd = (uint32_t)prog_fd;
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = flags;
  if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
    int e = errno;
    close(prog_fd);
    return -e;
  }
  int rc = 0;
  for (uint32_t i = 0; rc == 0 && i < old_cnt; i++) {
    memset(&a, 0, sizeof(a));
    a.prog_id = ids[i];
    int old_fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
    if (old_fd < 0) {
      if (errno != ENOENT) /* ENOENT: freed since the query (detached concurrently) */
        rc = -errno;
      continue;
    }
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)old_fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
      rc = -errno;
    close(old_fd);
  }
  if (rc < 0) {
    /* A detach failed: detach ours again so the call has no effect. The old
     * program whose detach failed is still attached: the cgroup stays filtered. */
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)prog_fd;
    a.attach_type = BPF_CGROUP_DEVICE;
    sys_bpf(BPF_PROG_DETACH, &a);
  }
  close(prog_fd); /* the attachment holds its own reference */
  return rc;
}
