/*
 * The C floor of what a cgroup adds to a start, for `npm run bench`
 * (bench/cgroup-floor.ts compiles and runs it; it is not part of the addon).
 *
 * Rounds alternate two ways of starting /bin/true with fork + exec and
 * waiting for it, in the order none/group, then group/none:
 *   - none: nothing else;
 *   - group: the least a runner with a fresh group per start does, all of it
 *     on the start's path: mkdir in each hierarchy given, open its join file
 *     (v1 `tasks`, v2 `cgroup.procs`), the child writes "0" to each before
 *     exec, then the parent reads the memory peak and removes the
 *     directories (again while the kernel still says EBUSY).
 * No namespaces, no pool, no second thread: what the kernel's part of a
 * group costs, in the same run as the library's rows.
 *
 * Usage: cgroup-floor ROUNDS WARMUP NAME_PREFIX JOIN_FILE PEAK_FILE PARENT_DIR...
 *   NAME_PREFIX: groups are PARENT_DIR/NAME_PREFIX<10 hex digits>, named as
 *   the library names its own (so gc() removes one left by a crash);
 *   JOIN_FILE: `tasks` on v1, `cgroup.procs` on v2;
 *   PEAK_FILE: read in the first parent's group (memory.max_usage_in_bytes
 *   on v1, memory.peak on v2), "-" for none.
 * Prints one line of JSON: the medians (µs) of each way and of the per-round
 * differences.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARENTS 8

static int nparents;
static char **parents;
static const char *prefix;
static const char *join_file;
static const char *peak_file;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "cgroup-floor: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

/* fork + exec /bin/true, joining join_fds first if any; waits for it. */
static void start_true(const int *join_fds, int n) {
  pid_t pid = fork();
  if (pid < 0) die("fork", "");
  if (pid == 0) {
    for (int i = 0; i < n; i++)
      if (write(join_fds[i], "0", 1) != 1) _exit(126);
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid", "");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "cgroup-floor: /bin/true ended with status %d\n", status);
    exit(1);
  }
}

static double run_none(void) {
  double t0 = now_us();
  start_true(NULL, 0);
  return now_us() - t0;
}

static double run_group(unsigned long long id) {
  char dir[MAX_PARENTS][4096], path[4200];
  int fds[MAX_PARENTS];
  double t0 = now_us();
  for (int i = 0; i < nparents; i++) {
    snprintf(dir[i], sizeof dir[i], "%s/%s%010llx", parents[i], prefix, id);
    if (mkdir(dir[i], 0755) != 0) die("mkdir", dir[i]);
    snprintf(path, sizeof path, "%s/%s", dir[i], join_file);
    fds[i] = open(path, O_WRONLY | O_CLOEXEC);
    if (fds[i] < 0) die("open", path);
  }
  start_true(fds, nparents);
  if (strcmp(peak_file, "-") != 0) {
    char buf[64];
    snprintf(path, sizeof path, "%s/%s", dir[0], peak_file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf) < 0) die("read", path);
    close(fd);
  }
  for (int i = 0; i < nparents; i++) {
    close(fds[i]);
    while (rmdir(dir[i]) != 0) {
      if (errno != EBUSY) die("rmdir", dir[i]);
      usleep(10);
    }
  }
  return now_us() - t0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  if (argc < 7 || argc - 6 > MAX_PARENTS) {
    fprintf(stderr, "usage: cgroup-floor ROUNDS WARMUP NAME_PREFIX JOIN_FILE PEAK_FILE PARENT_DIR...\n");
    return 2;
  }
  int rounds = atoi(argv[1]), warmup = atoi(argv[2]);
  prefix = argv[3];
  join_file = argv[4];
  peak_file = argv[5];
  parents = argv + 6;
  nparents = argc - 6;
  if (rounds < 1 || warmup < 0) return 2;
  double *none = malloc(rounds * sizeof *none), *group = malloc(rounds * sizeof *group), *diff = malloc(rounds * sizeof *diff);
  if (!none || !group || !diff) return 1;
  for (int i = 0; i < warmup + rounds; i++) {
    double a, b;
    if (i % 2) {
      b = run_group((unsigned long long)i);
      a = run_none();
    } else {
      a = run_none();
      b = run_group((unsigned long long)i);
    }
    if (i >= warmup) {
      none[i - warmup] = a;
      group[i - warmup] = b;
      diff[i - warmup] = b - a;
    }
  }
  printf("{\"rounds\":%d,\"noneUs\":%.1f,\"groupUs\":%.1f,\"pairedDeltaUs\":%.1f}\n", rounds, median(none, rounds), median(group, rounds), median(diff, rounds));
  return 0;
}
