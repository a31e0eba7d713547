// cordon bench – applies a Landlock domain chosen as cordon chooses its own, then execs a command:
// the Landlock layer of the "bubblewrap + Landlock + seccomp" row (bwrap itself has no Landlock).
//
//   landlock-exec WRITABLE_DIR... -- COMMAND ARGS...
//
// ABI 6+: abstract unix sockets and signals scoped, no filesystem right handled (the mount tree
// enforces the file policy; src/linux/landlock.ts says why). ABI 1-5: the write-side rights are
// handled and granted beneath each WRITABLE_DIR, as cordon does there. Needs no_new_privs, which
// bwrap sets when it installs a seccomp filter. Constants are spelled out: the build host's
// <linux/landlock.h> may predate ABI 6.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LL_CREATE 444
#define LL_ADD_RULE 445
#define LL_RESTRICT 446
#define LL_CREATE_VERSION 1u
#define LL_RULE_PATH_BENEATH 1

struct ruleset_attr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
struct path_beneath_attr {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

static int die(const char *what) {
  perror(what);
  return 126;
}

int main(int argc, char **argv) {
  int sep = 1;
  while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
  if (sep + 1 >= argc) {
    fprintf(stderr, "usage: landlock-exec WRITABLE_DIR... -- COMMAND ARGS...\n");
    return 2;
  }
  long abi = syscall(LL_CREATE, NULL, 0, LL_CREATE_VERSION);
  if (abi < 1) return die("landlock ABI");
  // WRITE_FILE, REMOVE_DIR, REMOVE_FILE, MAKE_CHAR … MAKE_SYM (bits 1, 4-12), and REFER from ABI 2.
  uint64_t writes = (1ull << 1) | (0x1ffull << 4) | (abi >= 2 ? 1ull << 13 : 0);
  struct ruleset_attr attr = {0};
  size_t size = sizeof attr;
  if (abi >= 6) {
    attr.scoped = 1 | 2;  // ABSTRACT_UNIX_SOCKET | SIGNAL
  } else {
    attr.handled_access_fs = writes;
    size = abi >= 4 ? 16 : 8;  // handled_access_net exists from ABI 4; scoped from 6
  }
  int ruleset = (int)syscall(LL_CREATE, &attr, size, 0);
  if (ruleset < 0) return die("landlock_create_ruleset");
  for (int i = 1; abi < 6 && i < sep; i++) {
    struct path_beneath_attr rule = {writes, open(argv[i], O_PATH | O_CLOEXEC)};
    if (rule.parent_fd < 0) return die(argv[i]);
    if (syscall(LL_ADD_RULE, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) != 0) return die("landlock_add_rule");
    close(rule.parent_fd);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return die("no_new_privs");
  if (syscall(LL_RESTRICT, ruleset, 0) != 0) return die("landlock_restrict_self");
  close(ruleset);
  execv(argv[sep + 1], argv + sep + 1);
  return die(argv[sep + 1]);
}
