{
  "targets": [
    {
      "target_name": "cordon-launcher",
      "type": "executable",
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/launcher/main.cc",
            "native/launcher/plan.cc",
            "native/launcher/report.cc",
            "native/launcher/namespaces.cc",
            "native/launcher/mounts.cc",
            "native/launcher/dir_names.cc",
            "native/launcher/privileges.cc",
            "native/launcher/landlock.cc",
            "native/launcher/seccomp.cc",
            "native/launcher/init.cc",
            "native/launcher/probe.cc",
            "native/launcher/network.cc",
            "native/launcher/listeners.cc",
            "native/launcher/netns_builder.cc",
            "native/launcher/connect_broker.cc",
            "native/launcher/unix_guard.cc",
            "native/launcher/limits.cc",
            "native/launcher/server.cc",
            "native/launcher/fd_passing.cc"
          ],
          "ldflags!": ["-pthread", "-rdynamic"],
          "cflags_cc": ["-std=c++17", "-O2", "-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra",
                        "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE"],
          "cflags_cc!": ["-fno-omit-frame-pointer", "-std=gnu++17", "-std=gnu++20", "-std=c++20"],
          "ldflags": ["-static-pie", "-Wl,-z,relro,-z,now"]
        }]
      ]
    },
    {
      "target_name": "cordon_net",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/addon/net.cc", "native/addon/fds.cc", "native/addon/dirwatch.cc", "native/addon/environ.cc", "native/launcher/fd_passing.cc"],
          "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
          "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
          "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-fstack-protector-strong"],
          "cflags_cc!": ["-std=gnu++17", "-std=gnu++20", "-std=c++20"]
        }]
      ]
    }
  ]
}
