/** Help texts and the version. docs/cli.md is the long form; keep both in step. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../native';

const EXIT_STATUS = `Exit status:
  N      the command exited with status N
  128+N  signal N killed the command (137: SIGKILL, also from the OOM killer
         when --memory ran out; stderr says so)
  1      probe: the native addon cannot be loaded; gc: something was not removed
  2      the command line is malformed (unknown command or option, missing value)
  124    --timeout or --cpu-time passed, or --max-output was exceeded; the
         container was killed
  125    isolate-kit failed: an option value was rejected or is not supported yet,
         or the container could not be set up
  126    the command was found but cannot be executed
  127    the command was not found
A command can exit with these numbers itself; --json tells the cases apart.
`;

export const MAIN_USAGE = `Usage: isolate-kit <command> [options]

Commands:
  run [options] [--] CMD [ARGS...]  run CMD in a new sandbox
  probe [--json]                    show what this kernel and user can do, and why not
  ps [--json]                       list the containers running on this machine
  gc [--json]                       remove cgroups that crashed isolate-kit processes left behind
  image import|export|ls|rm|gc      manage the image store (OCI layouts, docker save archives)
  help [COMMAND]                    show help for isolate-kit or a command

Options:
  -h, --help     show this help
  --version      print the version

${EXIT_STATUS}`;

export const RUN_USAGE = `Usage: isolate-kit run [options] [--] CMD [ARGS...]
       isolate-kit run --image REF [options] [--] [CMD [ARGS...]]

Runs CMD in new pid, mount, uts, ipc, net and cgroup namespaces, on the host
root read-only with a private /tmp, as nobody (65534:65534), without
capabilities and with only PATH and HOME=/tmp in its environment. Its output
streams to this terminal; isolate-kit exits with its status.

Options:
  --hostname NAME            hostname inside (default: isolate-kit)
  --bind SRC:DST[:ro|:rw]    bind host path SRC on DST, read-write unless :ro (repeatable)
  --tmpfs DST[:SIZE]         a private tmpfs on DST (default size 64M) (repeatable)
  --env K=V                  set K; --env K copies K from this environment if set (repeatable)
  --cwd DIR                  working directory inside (default: /)
  --user UID[:GID]           numeric user and group inside (default: 65534; GID defaults to UID)
  --timeout DURATION         kill the container after DURATION, e.g. 500ms, 2s, 1.5m (default: none)
  --max-output SIZE          kill the container once stdout or stderr passes SIZE bytes, e.g. 1M
                             (default: unlimited; 16M with --json)
  --net none|host            none: own network, loopback only (default); host: the host's network
  --cap CAP                  keep capability CAP, e.g. NET_BIND_SERVICE (repeatable; default: none)
  --seccomp unconfined       lift init's seccomp filter (by default it refuses user namespaces,
                             keyrings, leases, netlink protocols but ROUTE, io_uring, perf
                             events, vsock, MPTCP, secret memory; see
                             docs/security.md)
  --seccomp FILE             also apply a seccomp profile in Docker's or the OCI spec's JSON
                             (needs libseccomp.so.2); --seccomp default: the filter alone
  --rlimit NAME=SOFT[:HARD]  set a resource limit, e.g. nofile=256 or as=unlimited (repeatable;
                             defaults: core=0, nofile=1024:4096, each at most our own hard limit)
  --memory SIZE              memory limit of the container's cgroup, e.g. 64M; past it the OOM
                             killer ends a process inside
  --memory-swap SIZE         memory plus swap, as in docker run (needs --memory; equal to it: no
                             swap; max or -1: unlimited). Default: no swap (= --memory)
  --cpus N                   CPU quota in CPUs, e.g. 0.5 (throttles, never kills)
  --pids N                   most processes and threads at once, e.g. 64
  --cpuset LIST              CPUs to run on, e.g. 0-1,3
  --cpu-time DURATION        kill the container once it has used DURATION of CPU time (all its
                             processes, all CPUs), e.g. 2s
  --cgroup-parent PATH       create the container's cgroup under PATH (default: isolate-kit at the
                             root of each hierarchy)
  --image REF|DIR|TAR        run in an image: its layers are the root (writable, in a private
                             tmpfs) and its config gives env, cwd, user and the command
                             (Entrypoint + CMD, or Cmd when no CMD is given). REF names an
                             image in the store; a DIR or TAR (OCI layout, docker save) is
                             imported first
  --store DIR                the image store for --image (default: the library's)
  --upper-size SIZE          size of the writable layer with --image (default: 64M)
  --json                     print the RunResult as JSON on stdout instead of the output
  -i, --interactive          connect this stdin to CMD (default: /dev/null)
  -h, --help                 show this help

Any of --memory ... --cgroup-parent gives the container its own cgroup,
removed when it ends.
SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to every process in the
container; a second signal kills the container.

${EXIT_STATUS}`;

export const PROBE_USAGE = `Usage: isolate-kit probe [--json]

Reports the kernel, the native addon, each namespace kind (created for real),
the mount API, overlayfs, unprivileged user namespaces, the cgroup layout,
version and whether this user can create cgroups (where, with which
controllers), and libseccomp, with the reason for each thing that is missing.

Options:
  --json       print the report as JSON
  -h, --help   show this help

Exit status: 0, or 1 when the native addon cannot be loaded.
`;

export const GC_USAGE = `Usage: isolate-kit gc [--json] [--cgroup-parent PATH]

Removes the cgroups of isolate-kit processes that are gone (a crash, SIGKILL),
killing whatever still runs in them. Groups of live processes are left alone,
so it is safe to run at any time, e.g. from cron or at boot.

Options:
  --cgroup-parent PATH   look under PATH, as given to run --cgroup-parent
                         (default: isolate-kit at the root of each hierarchy)
  --json                 print the report as JSON
  -h, --help             show this help

Exit status: 0, also when there was nothing to remove or no cgroups here;
1 when something could not be removed (stderr says what and why).
`;

export const PS_USAGE = `Usage: isolate-kit ps [--json]

Lists the containers running on this machine, whoever started them, read
from /proc: their init's pid (what kill takes), the process that started
them, how long they have run, their processes (init included), the memory
their own cgroup is charged for, the namespaces they have of their own,
and their main process's command line (escaped: the payload sets it).
Run it as root to see every container: another user's are shown from what
that user lets you read (NAMESPACES '?').

Options:
  --json       print the list as JSON (startedAt as an ISO date)
  -h, --help   show this help
`;

export const IMAGE_USAGE = `Usage: isolate-kit image <command> [--store DIR] [options]

The image store: layers by content (sha256), images, names. Default store:
$XDG_DATA_HOME/isolate-kit, or /var/lib/isolate-kit for root.

Commands:
  import PATH [--tag NAME] [--json]     import images from an OCI image layout
                                        (directory or tar) or a docker save tar
  export REF DEST [--format oci|docker] [--dir]
                                        write an image as an OCI layout tar (default),
                                        an OCI layout directory (--dir), or a
                                        docker save tar (--format docker)
  ls [--json]                           list images
  rm REF...                             remove names (by name) or images (by ID)
  gc [--json] [--grace DURATION]        remove layers and blobs no image uses (layers of
                                        running containers stay, and layers younger
                                        than DURATION, default 10m: a commit not yet
                                        made an image)

REF: a name (busybox, busybox:1.36, example.com/app:1), an image ID
(sha256:...) or an ID prefix of 12+ hex digits.

Options:
  --store DIR   use the store at DIR
  -h, --help    show this help

Exit status: 0; 1 when the store refused (a bad archive, an unknown REF: stderr
says which); 2 for a malformed command line.
`;

export const HELP_TOPICS: Readonly<Record<string, string>> = {
  '': MAIN_USAGE,
  run: RUN_USAGE,
  probe: PROBE_USAGE,
  gc: GC_USAGE,
  ps: PS_USAGE,
  image: IMAGE_USAGE,
  help: MAIN_USAGE,
};

/**
 * What a usage error prints after its message: the synopsis and where the
 * rest is, so the message itself stays on screen (as docker and git do).
 */
export function usageHint(topic: string): string {
  const text = HELP_TOPICS[topic] ?? MAIN_USAGE;
  const synopsis = text.slice(0, text.indexOf('\n') + 1);
  const more = topic && topic !== 'help' ? `isolate-kit help ${topic}` : 'isolate-kit help';
  return `${synopsis}Run '${more}' for more information.\n`;
}

/** The version in our package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
