/* The system call numbers init's seccomp filter (no_userns.c) tests and its
 * supervisor (netlink_guard.c) tells apart, on the native ABI and the compat
 * one (i386 on x86_64, arm on aarch64; x32 shares x86_64's numbers with bit
 * 30 set, except for its compat calls, setsockopt among them). A filter sees raw numbers: libc's SYS_* name only the native ABI. */
#ifndef IK_SYSCALL_NRS_H
#define IK_SYSCALL_NRS_H

#include <linux/audit.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define NATIVE_UNSHARE 272
#define NATIVE_CLONE 56
#define NATIVE_SOCKET 41
#define NATIVE_SOCKETPAIR 53
#define NATIVE_SETSOCKOPT 54
#define COMPAT_ARCH AUDIT_ARCH_I386
#define COMPAT_UNSHARE 310
#define COMPAT_CLONE 120
#define COMPAT_SOCKET 359
#define COMPAT_SOCKETPAIR 360
#define COMPAT_SETSOCKOPT 366
#define X32_SETSOCKOPT 541 /* x32's own (a compat call), bit 30 masked off */
#define NATIVE_MQ_NOTIFY 244
#define X32_MQ_NOTIFY 527 /* x32's own (a compat call), bit 30 masked off */
#define COMPAT_MQ_NOTIFY 281
#define NATIVE_ADD_KEY 248 /* x32: the same, bit 30 set */
#define NATIVE_REQUEST_KEY 249
#define NATIVE_KEYCTL 250
#define COMPAT_ADD_KEY 286
#define COMPAT_REQUEST_KEY 287
#define COMPAT_KEYCTL 288
#define NATIVE_FCNTL 72 /* x32: the same, bit 30 set */
#define COMPAT_FCNTL 55
#define COMPAT_FCNTL64 221
#define NATIVE_PERF_EVENT_OPEN 298 /* x32: the same, bit 30 set */
#define COMPAT_PERF_EVENT_OPEN 336
#define NR_MASK (~0x40000000u) /* x32: the same numbers, bit 30 set, but for compat calls (512+) */
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define NATIVE_UNSHARE 97
#define NATIVE_CLONE 220
#define NATIVE_SOCKET 198
#define NATIVE_SOCKETPAIR 199
#define NATIVE_SETSOCKOPT 208
#define COMPAT_ARCH AUDIT_ARCH_ARM
#define COMPAT_UNSHARE 337
#define COMPAT_CLONE 120
#define COMPAT_SOCKET 281
#define COMPAT_SOCKETPAIR 288
#define COMPAT_SETSOCKOPT 294
#define X32_SETSOCKOPT NATIVE_SETSOCKOPT /* no x32 here */
#define NATIVE_MQ_NOTIFY 184
#define X32_MQ_NOTIFY NATIVE_MQ_NOTIFY
#define COMPAT_MQ_NOTIFY 278
#define NATIVE_ADD_KEY 217
#define NATIVE_REQUEST_KEY 218
#define NATIVE_KEYCTL 219
#define COMPAT_ADD_KEY 309
#define COMPAT_REQUEST_KEY 310
#define COMPAT_KEYCTL 311
#define NATIVE_FCNTL 25
#define COMPAT_FCNTL 55
#define COMPAT_FCNTL64 221
#define NATIVE_PERF_EVENT_OPEN 241
#define COMPAT_PERF_EVENT_OPEN 364
#define NR_MASK (~0u)
#else
#error "syscall_nrs.h: add this architecture's syscall numbers"
#endif
#define CLONE3 435         /* the same on every ABI */
#define IO_URING_SETUP 425 /* the same on every ABI */
#define MEMFD_SECRET 447   /* the same on every ABI that has it */
/* i386's multiplexer; arm's EABI (the only one arm64 runs) has no 102, so
 * testing it there costs nothing: the kernel says ENOSYS anyway. */
#define COMPAT_SOCKETCALL 102

#endif
