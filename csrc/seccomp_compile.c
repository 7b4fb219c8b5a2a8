#define _GNU_SOURCE
#include "seccomp_compile.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* libseccomp's API (seccomp.h), as far as we call it: stable since 2.2. */
typedef void *scmp_ctx;
struct scmp_api {
  scmp_ctx (*init)(uint32_t def_action);
  void (*release)(scmp_ctx ctx);
  int (*arch_add)(scmp_ctx ctx, uint32_t token);
  int (*attr_set)(scmp_ctx ctx, int attr, uint32_t value);
  int (*resolve_name)(const char *name);
  int (*rule_add_array)(scmp_ctx ctx, uint32_t action, int syscall, unsigned int n, const struct ik_scmp_arg *args);
  int (*export_bpf)(scmp_ctx ctx, int fd);
};
#define SCMP_FLTATR_ACT_BADARCH 2
#define NR_SCMP_ERROR (-1)

_Static_assert(sizeof(struct ik_scmp_arg) == 24, "struct scmp_arg_cmp is 24 bytes");

/* libseccomp's functions, loaded on first use; NULL and *why when it cannot be. */
static const struct scmp_api *load(const char **why) {
  static struct scmp_api api;
  static int done;
  if (done)
    return &api;
  /* Kept for the process: dlclose would only make the next profile pay again. */
  void *h = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    *why = dlerror();
    return NULL;
  }
#define SYM(field, name)                                \
  if ((*(void **)&api.field = dlsym(h, name)) == NULL) { \
    *why = "libseccomp.so.2 lacks " name;               \
    return NULL;                                         \
  }
  SYM(init, "seccomp_init")
  SYM(release, "seccomp_release")
  SYM(arch_add, "seccomp_arch_add")
  SYM(attr_set, "seccomp_attr_set")
  SYM(resolve_name, "seccomp_syscall_resolve_name")
  SYM(rule_add_array, "seccomp_rule_add_array")
  SYM(export_bpf, "seccomp_export_bpf")
#undef SYM
  done = 1;
  return &api;
}

static int fail(const char *call, int err, const char **why) {
  *why = call;
  errno = err;
  return -1;
}

int ik_seccomp_compile(uint32_t default_action, uint32_t bad_arch_action, const uint32_t *arches, size_t n_arches,
                       const struct ik_scmp_rule *rules, size_t n_rules, unsigned char *unknown, unsigned char **out,
                       size_t *out_len, const char **why, size_t *failed_rule) {
  *failed_rule = SIZE_MAX;
  const char *no = NULL;
  const struct scmp_api *lib = load(&no);
  if (lib == NULL)
    return fail(no ? no : "dlopen", ELIBACC, why);
  const struct scmp_api api = *lib;
  scmp_ctx ctx = api.init(default_action);
  if (ctx == NULL)
    return fail("seccomp_init", EINVAL, why);
  int rc = api.attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, bad_arch_action);
  if (rc < 0)
    goto fail_rc_attr;
  for (size_t i = 0; i < n_arches; i++) {
    rc = api.arch_add(ctx, arches[i]);
    if (rc < 0 && rc != -EEXIST) /* the native one is in from the start */
      goto fail_rc_arch;
  }
  for (size_t i = 0; i < n_rules; i++) {
    int nr = api.resolve_name(rules[i].name);
    unknown[i] = nr == NR_SCMP_ERROR;
    if (unknown[i])
      continue;
    rc = api.rule_add_array(ctx, rules[i].action, nr, rules[i].n_args, rules[i].args);
    if (rc < 0) {
      *failed_rule = i;
      api.release(ctx);
      return fail("seccomp_rule_add", -rc, why);
    }
  }
  int fd = (int)syscall(SYS_memfd_create, "isolate-kit-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    api.release(ctx);
    return fail("memfd_create", e, why);
  }
  rc = api.export_bpf(ctx, fd);
  api.release(ctx);
  struct stat st;
  if (rc < 0) {
    close(fd);
    return fail("seccomp_export_bpf", -rc, why);
  }
  if (fstat(fd, &st) < 0 || st.st_size <= 0) {
    close(fd);
    return fail("fstat", errno ? errno : EIO, why);
  }
  unsigned char *buf = malloc((size_t)st.st_size);
  if (buf == NULL) {
    close(fd);
    return fail("malloc", ENOMEM, why);
  }
  ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
  int e = errno;
  close(fd);
  if (n != st.st_size) {
    free(buf);
    return fail("pread", n < 0 ? e : EIO, why);
  }
  *out = buf;
  *out_len = (size_t)n;
  return 0;
fail_rc_attr:
  api.release(ctx);
  return fail("seccomp_attr_set", -rc, why);
fail_rc_arch:
  api.release(ctx);
  return fail("seccomp_arch_add", -rc, why);
}
