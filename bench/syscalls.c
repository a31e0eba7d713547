// cordon benchmark: the cost of common syscalls under a seccomp filter.
// Built by bench/syscalls.mjs with `cc -O2` into a temporary directory at bench time.
//
//   syscalls MODE [FILTER] FILE
//     MODE  plain   no filter
//           floor   a 1-instruction `ret ALLOW` filter (the cost of seccomp being on at all)
//           argload `ld args[0]; ret ALLOW` (2 instructions, not cacheable: the uncached reference)
//           file    the program in FILTER (raw struct sock_filter[]), e.g. cordon's
//     FILE  an existing regular file for openat/stat
// Prints one line per operation: "<op> <ns per op>", each the fastest of a few timed batches after
// a warm-up, so one process gives one sample; the driver runs processes interleaved and repeats.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "syscalls: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void install(struct sock_filter *insns, size_t count) {
  struct sock_fprog prog = {(unsigned short)count, insns};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die("seccomp");
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int zero_fd;
static const char *file;
static char byte;

static void op_getpid(void) { syscall(SYS_getpid); }
static void op_read(void) {
  if (read(zero_fd, &byte, 1) != 1) die("read");
}
static void op_openat(void) {
  int fd = openat(AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("openat");
  close(fd);
}
static void op_stat(void) {
  struct stat st;
  if (stat(file, &st) != 0) die("stat");
}
static void op_fork(void) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) _exit(0);
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
}

struct op {
  const char *name;
  void (*fn)(void);
  long iterations;  // per batch
};

static const struct op ops[] = {
    {"getpid", op_getpid, 200000},
    {"read1", op_read, 200000},
    {"openat_close", op_openat, 50000},
    {"stat", op_stat, 50000},
    {"fork_wait", op_fork, 400},
};

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: syscalls plain|floor|argload|file [FILTER] FILE\n");
    return 2;
  }
  const char *mode = argv[1];
  file = argv[argc - 1];
  zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  if (zero_fd < 0) die("open /dev/zero");

  if (!strcmp(mode, "floor")) {
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    install(f, 1);
  } else if (!strcmp(mode, "argload")) {
    struct sock_filter f[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
                              BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    install(f, 2);
  } else if (!strcmp(mode, "file")) {
    if (argc != 4) die("file mode needs FILTER");
    static struct sock_filter f[4096];
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) die("open filter");
    ssize_t n = read(fd, f, sizeof f);
    if (n <= 0 || n % 8 != 0) die("read filter");
    close(fd);
    install(f, (size_t)n / 8);
  } else if (strcmp(mode, "plain") != 0) {
    fprintf(stderr, "syscalls: unknown mode %s\n", mode);
    return 2;
  }

  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    const struct op *o = &ops[i];
    for (long k = 0; k < o->iterations / 10; k++) o->fn();  // warm-up
    double best = 1e30;
    for (int batch = 0; batch < 3; batch++) {
      double t0 = now_ns();
      for (long k = 0; k < o->iterations; k++) o->fn();
      double per = (now_ns() - t0) / (double)o->iterations;
      if (per < best) best = per;
    }
    printf("%s %.1f\n", o->name, best);
  }
  return 0;
}
