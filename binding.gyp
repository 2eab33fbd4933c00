{
  "targets": [
    {
      "target_name": "kfault",
      "sources": [
        "native/addon.cc",
        "native/attrs.cc",
        "native/command.c",
        "native/command-addon.cc",
        "native/errors.cc",
        "native/guest.c",
        "native/fsck.c",
        "native/harnesses.c",
        "native/harnesses-ext4.c",
        "native/isolate.c",
        "native/kmsg.c",
        "native/lock.c",
        "native/modules.c",
        "native/stress.c",
        "native/sweep.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "libraries": ["-ldl", "-lpthread"]
    },
    {
      "target_name": "kfault-harness-runner",
      "type": "executable",
      "sources": ["native/harness-runner.c", "native/guest.c", "native/sweep.c", "native/kmsg.c", "native/user.c", "native/fsck.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_c": ["-std=gnu11"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
