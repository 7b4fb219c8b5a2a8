/* Run inside a container by test/integration/escape.test.ts: asks the kernel
 * to signal PID 1 (init) on its behalf, as the owner (F_SETOWN) of a socket
 * with F_SETSIG, and writes to it. The signal reaches init with no sender
 * pid, like one from outside the container. Exits 0 after 300 ms if nothing
 * it caused came back to it (init forwards SIGTERM to the main process).
 *
 *   gcc -std=gnu11 -O1 -Wall -Wextra -o sigio_init test/native/sigio_init.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || fcntl(sv[0], F_SETOWN, 1) < 0 ||
      fcntl(sv[0], F_SETSIG, SIGTERM) < 0 || fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC) < 0) {
    perror("sigio_init: setup");
    return 2;
  }
  for (int i = 0; i < 3; i++) {
    if (write(sv[1], "x", 1) != 1) {
      perror("sigio_init: write");
      return 2;
    }
    usleep(100000);
  }
  puts("still here");
  return 0;
}
