/* Compiles a seccomp profile (lib/seccomp-profile.ts resolved it to plain
 * rules) to classic BPF with libseccomp, loaded at run time so that building
 * isolate-kit needs no libseccomp-dev. Runs in the Node process, on the JS
 * thread; init only loads the result (IK_OP_SECCOMP). */
#ifndef IK_SECCOMP_COMPILE_H
#define IK_SECCOMP_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libseccomp's struct scmp_arg_cmp, field for field. */
struct ik_scmp_arg {
  uint32_t arg; /* 0-5 */
  uint32_t op;  /* SCMP_CMP_*: 1 NE, 2 LT, 3 LE, 4 EQ, 5 GE, 6 GT, 7 MASKED_EQ */
  uint64_t a;
  uint64_t b;
};

struct ik_scmp_rule {
  uint32_t action; /* SCMP_ACT_* value, errno or trace data included */
  const char *name;
  uint32_t n_args; /* 0-6 */
  struct ik_scmp_arg args[6];
};

/* Compiles; 0 and *out (malloc'd, *out_len bytes of struct sock_filter) on
 * success, else -1 and *why (the libseccomp call) with errno, or, where
 * libseccomp cannot be loaded, dlerror()'s text with ELIBACC; and *failed_rule (the rule's index, or SIZE_MAX for
 * none). unknown[i] is set to
 * 1 for a rule whose syscall libseccomp does not know (skipped, as Docker
 * and runc skip them). `bad_arch_action`: for a call of an ABI not in
 * `arches` (the native one is always in). */
int ik_seccomp_compile(uint32_t default_action, uint32_t bad_arch_action, const uint32_t *arches, size_t n_arches,
                       const struct ik_scmp_rule *rules, size_t n_rules, unsigned char *unknown, unsigned char **out,
                       size_t *out_len, const char **why, size_t *failed_rule);

#ifdef __cplusplus
}
#endif

#endif
