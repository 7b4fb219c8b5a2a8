/* Run inside a container by test/integration/escape.test.ts: queues SIGTERM
 * to init with a siginfo of its own, as uid 0 may (rt_sigqueueinfo,
 * rt_tgsigqueueinfo, pidfd_send_signal with info), forging a sender pid
 * (0: one init's pid namespace cannot see, as if from outside) and a code
 * other than SI_USER/SI_TKILL, which the kernel refuses to forge. Prints
 * "<call> <code> sent" or the errno per attempt, then "still here" after
 * 300 ms if nothing it caused came back to it (init forwards SIGTERM to
 * the main process).
 *
 *   sigqueue_init [init's pid (1)] [forged sender pid (0)]
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o sigqueue_init test/native/sigqueue_init.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int main(int argc, char **argv) {
  pid_t target = argc > 1 ? atoi(argv[1]) : 1;
  pid_t forged = argc > 2 ? atoi(argv[2]) : 0;
  static const struct {
    int code;
    const char *name;
  } codes[] = {{SI_QUEUE, "SI_QUEUE"}, {SI_MESGQ, "SI_MESGQ"}, {SI_TIMER, "SI_TIMER"}, {SI_ASYNCIO, "SI_ASYNCIO"}};
  int pidfd = (int)syscall(SYS_pidfd_open, target, 0);
  for (int call = 0; call < 3; call++) {
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      si.si_signo = SIGTERM;
      si.si_code = codes[k].code;
      si.si_pid = forged;
      si.si_uid = 0;
      long r;
      const char *name;
      if (call == 0) {
        name = "rt_sigqueueinfo";
        r = syscall(SYS_rt_sigqueueinfo, target, SIGTERM, &si);
      } else if (call == 1) {
        name = "rt_tgsigqueueinfo";
        r = syscall(SYS_rt_tgsigqueueinfo, target, target, SIGTERM, &si);
      } else {
        name = "pidfd_send_signal";
        r = pidfd < 0 ? -1 : syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, &si, 0);
      }
      printf("%s %s %s\n", name, codes[k].name, r == 0 ? "sent" : strerrorname_np(errno));
      fflush(stdout);
      /* One SIGTERM pending at a time: let init read each. */
      usleep(20000);
    }
  }
  usleep(300000);
  puts("still here");
  return 0;
}
