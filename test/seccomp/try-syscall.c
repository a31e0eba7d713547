// cordon test helper: optionally installs a seccomp program, then makes one syscall and prints the
// outcome. Compiled by test/seccomp/kernel.test.ts with `cc` into a temporary directory.
//
//   try-syscall [--userns] FILTER|- ACTION
//   try-syscall [--userns] FILTER|- exec PROGRAM [ARG…]   runs a program under the filter
//     --userns  first unshare(CLONE_NEWUSER|CLONE_NEWNET), so capability checks inside the kernel
//               (packet sockets) pass and only the filter can refuse (a real positive control)
//     FILTER    a file of raw struct sock_filter[]; '-' = no filter (the positive control)
//   prints "ok <return value>" or "err <errno>"; a killed process prints nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static void die(const char *what) {
  fprintf(stderr, "try-syscall: %s: %s\n", what, strerror(errno));
  exit(100);
}

static void install(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open filter");
  static struct sock_filter insns[4096];
  ssize_t n = read(fd, insns, sizeof insns);
  if (n <= 0 || n % 8 != 0) die("read filter");
  close(fd);
  struct sock_fprog prog = {(unsigned short)(n / 8), insns};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die("seccomp");
}

// A child that exits at once; the parent reaps it. Returns the child's pid or -1.
static long reap(long pid) {
  if (pid == 0) _exit(0);
  if (pid > 0) {
    int saved = errno;
    waitpid((pid_t)pid, NULL, __WALL);
    errno = saved;
  }
  return pid;
}

static long run(const char *action) {
  if (!strcmp(action, "getpid")) return syscall(SYS_getpid);
  if (!strcmp(action, "fork")) return reap(fork());
  if (!strcmp(action, "ptrace_traceme")) return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
  if (!strcmp(action, "io_uring_setup")) {
    static unsigned char params[120];
    long fd = syscall(__NR_io_uring_setup, 8, params);
    return fd >= 0 ? 0 : fd;  // the fd number is of no interest
  }
  if (!strcmp(action, "clone3")) {
    uint64_t args[11] = {0};
    args[4] = SIGCHLD;  // exit_signal
    return reap(syscall(__NR_clone3, args, sizeof args));
  }
  if (!strcmp(action, "clone_newuser")) return reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
  if (!strcmp(action, "clone_thread_flags"))  // what glibc's fork passes
    return reap(syscall(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0, 0, 0, 0));
  if (!strcmp(action, "unshare_user")) return syscall(SYS_unshare, CLONE_NEWUSER);
  if (!strcmp(action, "x32_getpid")) return syscall(0x40000000 | SYS_getpid);
  if (!strcmp(action, "int80_getpid")) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");  // i386 getpid = 20
    if (ret < 0 && ret > -4096) {
      errno = (int)-ret;
      return -1;
    }
    return ret;
  }
  if (!strcmp(action, "socket_packet")) return syscall(SYS_socket, 17 /* AF_PACKET */, SOCK_RAW, 0);
  if (!strcmp(action, "socket_inet_raw")) return syscall(SYS_socket, AF_INET, SOCK_RAW, 1 /* ICMP */);
  if (!strcmp(action, "socket_inet_packet")) return syscall(SYS_socket, AF_INET, 10 /* SOCK_PACKET */, 0);
  if (!strcmp(action, "socket_inet_stream")) return syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!strcmp(action, "socket_unix")) return syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  if (!strcmp(action, "personality_query")) return syscall(SYS_personality, 0xffffffffUL);
  if (!strcmp(action, "personality_norandom")) return syscall(SYS_personality, 0x0040000UL /* ADDR_NO_RANDOMIZE */);
  if (!strcmp(action, "unknown_syscall")) return syscall(1000);
  fprintf(stderr, "try-syscall: unknown action %s\n", action);
  exit(101);
}

int main(int argc, char **argv) {
  int i = 1;
  int userns = 0;
  if (i < argc && !strcmp(argv[i], "--userns")) {
    userns = 1;
    i++;
  }
  int exec = argc - i >= 3 && !strcmp(argv[i + 1], "exec");
  if (argc - i != 2 && !exec) {
    fprintf(stderr, "usage: try-syscall [--userns] FILTER|- ACTION | exec PROGRAM [ARG...]\n");
    return 102;
  }
  if (userns && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) die("unshare(CLONE_NEWUSER|CLONE_NEWNET)");
  if (strcmp(argv[i], "-") != 0) install(argv[i]);
  if (exec) {
    execvp(argv[i + 2], &argv[i + 2]);
    die("execvp");
  }
  errno = 0;
  long r = run(argv[i + 1]);
  if (r == -1 && errno != 0) printf("err %d\n", errno);
  else printf("ok %ld\n", r);
  fflush(stdout);
  return 0;
}
