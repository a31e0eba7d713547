// cordon tests – raw-syscall helper for test/escape/unixguard-battery.test.ts (red team 3 on the
// unix-socket guard). Compiled with `cc` by the test; every mode prints one line and exits 0.
//
//   unixattack longlen <addrlen>   connect() an AF_UNIX stream socket with a 128-byte address whose
//                                  sun_path has no NUL (the kernel answers EINVAL above 110)
//   unixattack i386 <path>         connect() through the i386 ABI (int 0x80: socketcall, then connect)
//   unixattack x32 <path>          connect() through the x32 ABI (__X32_SYSCALL_BIT | 42)
//   unixattack iouring             io_uring_setup()
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static const char* errname(int e) {
  switch (e) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return "OTHER";
  }
}

static void greet(int s, long r) {
  if (r != 0) {
    printf("err:%s\n", errname((int)-r));
    return;
  }
  char buf[64] = {0};
  ssize_t n = read(s, buf, sizeof buf - 1);
  if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = '\0';
  printf("ok:%s\n", buf);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(argv[1], "longlen") && argc > 2) {
    unsigned char buf[128];
    memset(buf, 'A', sizeof buf);
    sa_family_t fam = AF_UNIX;
    memcpy(buf, &fam, sizeof fam);
    buf[2] = '/';
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    int r = connect(s, (struct sockaddr*)buf, (socklen_t)atoi(argv[2]));
    printf("connect:%s\n", errname(r == 0 ? 0 : errno));
    return 0;
  }
  if ((!strcmp(argv[1], "i386") || !strcmp(argv[1], "x32")) && argc > 2) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    // The i386 ABI sees 32-bit pointers: the address and socketcall's argument block live below 4 GiB.
    char* low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (low == MAP_FAILED) return printf("err:mmap\n"), 0;
    struct sockaddr_un* a = (struct sockaddr_un*)low;
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path, argv[2], sizeof a->sun_path - 1);
    long r;
    if (!strcmp(argv[1], "i386")) {
      unsigned* args = (unsigned*)(low + 512);
      args[0] = (unsigned)s;
      args[1] = (unsigned)(unsigned long)a;
      args[2] = sizeof *a;
      long nr = 102, call = 3;  // socketcall(SYS_CONNECT, args)
      __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(call), "c"(args) : "memory");
      if (r == -ENOSYS) {
        nr = 362;  // connect
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"((long)s), "c"(a), "d"((long)sizeof *a) : "memory");
      }
    } else {
      r = syscall(0x40000000L | 42, s, a, sizeof *a);
      if (r < 0) r = -errno;
    }
    greet(s, r);
    return 0;
  }
  if (!strcmp(argv[1], "iouring")) {
    char params[120];
    memset(params, 0, sizeof params);
    long r = syscall(425, 4, params);
    printf("io_uring_setup:%s\n", r >= 0 ? "0" : errname(errno));
    return 0;
  }
  return 2;
}
