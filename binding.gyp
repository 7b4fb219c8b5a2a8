{
  "variables": {
    "ik_warnings": [
      "-Wall", "-Wextra", "-Wno-unused-parameter",
      "-Werror=return-type", "-Werror=format-security", "-Werror=shadow=local"
    ],
    "ik_c_warnings": [
      "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types",
      "-Werror=int-conversion"
    ]
  },
  "conditions": [
    ["OS!='linux'", {
      "targets": [{ "target_name": "isolate_kit", "type": "none",
                    "actions": [{ "action_name": "linux_only", "inputs": [], "outputs": ["linux-only"],
                                  "action": ["sh", "-c", "echo 'isolate-kit works on Linux only' >&2; exit 1"] }] }]
    }],
    ["OS=='linux'", {
      "targets": [
        {
          "target_name": "isolate_kit",
          "sources": ["csrc/addon.cc", "csrc/spawn.c", "csrc/zygote_client.c", "csrc/netns_pool.c", "csrc/mntns_release.c", "csrc/quiet_thread.c", "csrc/fdpass.c", "csrc/fds.c", "csrc/netns_prepare.c", "csrc/cgroup_join.c", "csrc/cgroup_devices.c", "csrc/cgroup_dirs.c", "csrc/owner_marks.c", "csrc/netlink_ledger.c", "csrc/epoll_entries.c", "csrc/pidns_kill.c", "csrc/seccomp_compile.c"],
          "include_dirs": ["<!(node -e \"require('nan')\")"],
          "cflags": ["<@(ik_warnings)", "-fvisibility=hidden"],
          "cflags_c": ["-std=gnu11", "<@(ik_c_warnings)"],
          "cflags_cc": ["-std=gnu++17", "-Wno-cast-function-type"],
          "ldflags": ["-Wl,-z,nodelete"]
        },
        {
          "target_name": "isolate-kit-init",
          "type": "executable",
          "sources": [
            "csrc/init/main.c",
            "csrc/init/plan_reader.c",
            "csrc/init/setup.c",
            "csrc/init/process.c",
            "csrc/init/no_userns.c",
            "csrc/init/landlock_scope.c",
            "csrc/init/netlink_guard.c",
            "csrc/init/oom_guard.c",
            "csrc/init/zygote.c",
            "csrc/fdpass.c",
            "csrc/fds.c",
            "csrc/epoll_entries.c",
            "csrc/netns_prepare.c",
            "csrc/cgroup_join.c"
          ],
          "cflags": ["<@(ik_warnings)", "<@(ik_c_warnings)", "-std=gnu11", "-O2"],
          "ldflags": ["-static", "-s"]
        }
      ]
    }]
  ]
}
