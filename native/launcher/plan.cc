// cordon – decodes the launch plan sent by Node (see plan.h for the wire format).
#include "plan.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <poll.h>
#include <unistd.h>

#include "report.h"

namespace cordon {

std::vector<std::string> split_nul(const std::string& s, size_t max) {
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size() + 1 < max) {
    size_t z = s.find('\0', start);
    if (z == std::string::npos) break;
    out.emplace_back(s, start, z - start);
    start = z + 1;
  }
  out.emplace_back(s, start);
  return out;
}

namespace {

constexpr uint32_t kMaxRecord = 64u << 20;  // one record (e.g. an env value) may not exceed 64 MiB

// Reads the plan through one buffer: a few large read()s instead of two per record.
class PlanReader {
 public:
  explicit PlanReader(int fd) : fd_(fd) {}
  /** A reader of `len` bytes in memory (fd -1): the end of them is EOF. */
  void load(const char* data, size_t len) {
    len = len < sizeof buf_ ? len : sizeof buf_;
    std::memcpy(buf_, data, len);
    pos_ = 0;
    end_ = len;
  }
  size_t consumed() const { return pos_; }
  /** Whether what comes next is exactly `bytes` (reading once if nothing is buffered); if so, skips it. */
  bool skip_if_next(const std::string& bytes) {
    while (pos_ == end_ && fd_ >= 0) {
      ssize_t n = ::read(fd_, buf_, sizeof buf_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      pos_ = 0;
      end_ = static_cast<size_t>(n);
    }
    if (end_ - pos_ < bytes.size() || std::memcmp(buf_ + pos_, bytes.data(), bytes.size()) != 0) return false;
    pos_ += bytes.size();
    return true;
  }
  /** While waiting for data, also watch `fd` (init's life pipe): it hanging up means give up. */
  void watch(int fd) { watch_fd_ = fd; }
  bool read_exact(void* buf, size_t len) {
    auto* out = static_cast<char*>(buf);
    while (len > 0) {
      if (pos_ == end_) {
        if (fd_ < 0) {
          errno = EPIPE;
          return false;
        }
        if (watch_fd_ >= 0) {
          struct pollfd fds[2] = {{fd_, POLLIN, 0}, {watch_fd_, POLLIN, 0}};
          int r = ::poll(fds, 2, -1);
          if (r < 0 && errno == EINTR) continue;
          if (r < 0) return false;
          if (!(fds[0].revents & (POLLIN | POLLHUP)) && fds[1].revents) {
            errno = EPIPE;  // the launcher is gone: this sandbox will never get its command
            return false;
          }
        }
        ssize_t n = ::read(fd_, buf_, sizeof buf_);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          if (n == 0) errno = EPIPE;
          return false;
        }
        pos_ = 0;
        end_ = static_cast<size_t>(n);
      }
      size_t take = end_ - pos_ < len ? end_ - pos_ : len;
      std::memcpy(out, buf_ + pos_, take);
      pos_ += take;
      out += take;
      len -= take;
    }
    return true;
  }

 private:
  int fd_;
  int watch_fd_ = -1;
  char buf_[64 * 1024];
  size_t pos_ = 0;
  size_t end_ = 0;
};


bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

bool parse_mount_kind(const std::string& s, MountKind* k) {
  static const struct { const char* name; MountKind kind; } kKinds[] = {
      {"bind-ro", MountKind::kBindRo}, {"bind-rw", MountKind::kBindRw}, {"bind-dev", MountKind::kBindDev},
      {"tmpfs", MountKind::kTmpfs},    {"mask", MountKind::kMask},      {"symlink", MountKind::kSymlink},
      {"dir", MountKind::kDir},        {"proc", MountKind::kProc},      {"devpts", MountKind::kDevpts},
      {"file", MountKind::kFile},      {"remount-ro", MountKind::kRemountRo}, {"pin", MountKind::kPin},
  };
  for (const auto& e : kKinds) {
    if (s == e.name) {
      *k = e.kind;
      return true;
    }
  }
  return false;
}

bool g_silent = false;  // decoding for remember_setup: no SETUP records (fd 3 is the server's control socket)

bool bad_record(const char* what) {
  errno = EINVAL;
  return g_silent ? false : fail("read-plan", "decode", what);
}

// The setup part remember_setup() decoded last, with its bytes.
struct DecodedSetup {
  bool valid = false;
  std::string bytes;
  Plan plan;
} g_decoded;


// One reader for both parts: bytes buffered past END_SETUP stay in it (and in init's copy of it
// after fork) for read_command.
PlanReader* reader_for(int fd) {
  static PlanReader reader(fd);
  return &reader;
}

// Reads one record; returns false with errno set on EOF or a read error.
bool next_record(PlanReader* reader, uint32_t* tag, std::string* payload) {
  uint32_t header[2];
  if (!reader->read_exact(header, sizeof header)) return false;
  if (header[1] > kMaxRecord) {
    errno = E2BIG;
    return false;
  }
  payload->assign(header[1], '\0');
  *tag = header[0];
  return header[1] == 0 || reader->read_exact(payload->data(), header[1]);
}

bool decode_setup(PlanReader* reader, Plan* plan);

}  // namespace

bool read_command(int fd, Plan* plan, int life_fd) {
  reader_for(fd)->watch(life_fd);
  for (;;) {
    uint32_t tag;
    std::string payload;
    if (!next_record(reader_for(fd), &tag, &payload)) {
      if (errno == EPIPE) return false;  // discarded before use: nothing to report
      return fail("read-command", "read", "command record");
    }
    switch (static_cast<Tag>(tag)) {
      case Tag::kArg: plan->argv.push_back(std::move(payload)); break;
      case Tag::kEnv: plan->env.push_back(std::move(payload)); break;
      case Tag::kCwd: plan->cwd = std::move(payload); break;
      case Tag::kEnd:
        if (plan->argv.empty()) return bad_record("empty argv");
        return true;
      default: return bad_record("unexpected record in the command part");
    }
  }
}

bool read_plan(int fd, Plan* plan) {
  PlanReader* reader = reader_for(fd);
  if (g_decoded.valid && reader->skip_if_next(g_decoded.bytes)) {
    *plan = std::move(g_decoded.plan);
    g_decoded = DecodedSetup{};
    return true;
  }
  return decode_setup(reader, plan);
}

void remember_setup(const char* data, size_t len) {
  if (g_decoded.valid && len >= g_decoded.bytes.size() && std::memcmp(data, g_decoded.bytes.data(), g_decoded.bytes.size()) == 0) return;
  static PlanReader memory(-1);
  memory.load(data, len);
  g_decoded = DecodedSetup{};
  g_silent = true;
  const bool ok = decode_setup(&memory, &g_decoded.plan);
  g_silent = false;
  if (!ok) {
    g_decoded = DecodedSetup{};
    return;
  }
  g_decoded.bytes.assign(data, memory.consumed());
  g_decoded.valid = true;
}

namespace {

bool decode_setup(PlanReader* reader, Plan* plan) {
  for (;;) {
    uint32_t tag;
    std::string payload;
    if (!next_record(reader, &tag, &payload)) return g_silent ? false : fail("read-plan", "read", "plan record");
    const uint32_t len = static_cast<uint32_t>(payload.size());
    (void)len;
    uint64_t num = 0;
    switch (static_cast<Tag>(tag)) {
      case Tag::kHostname: plan->hostname = std::move(payload); break;
      case Tag::kMount: {
        auto f = split_nul(payload, 4);
        if (f.size() != 4) return bad_record("mount record needs 4 fields");
        MountOp op;
        if (!parse_mount_kind(f[0], &op.kind)) return bad_record("unknown mount kind");
        op.src = f[1];
        op.dst = f[2];
        op.opt = f[3];
        if (op.dst.empty() || op.dst[0] != '/') return bad_record("mount destination must be absolute");
        plan->mounts.push_back(std::move(op));
        break;
      }
      case Tag::kLandlockFs:
        if (!parse_u64(payload, &plan->landlock_fs)) return bad_record("landlock fs mask");
        break;
      case Tag::kLandlockScope:
        if (!parse_u64(payload, &plan->landlock_scope)) return bad_record("landlock scope");
        break;
      case Tag::kLandlockAbi:
        if (!parse_u64(payload, &num)) return bad_record("landlock abi");
        plan->landlock_abi = static_cast<int>(num);
        break;
      case Tag::kLandlockRule: {
        auto f = split_nul(payload, 2);
        LandlockRule r;
        if (f.size() != 2 || !parse_u64(f[0], &r.access)) return bad_record("landlock rule");
        r.path = f[1];
        plan->landlock_rules.push_back(std::move(r));
        break;
      }
      case Tag::kSeccomp:
        if (payload.size() % 8 != 0 || payload.empty()) return bad_record("seccomp program size");
        plan->seccomp = std::move(payload);
        break;
      case Tag::kNamespaces:
        if (!parse_u64(payload, &plan->namespaces)) return bad_record("namespaces");
        break;
      case Tag::kNotifyErrno: {
        auto f = split_nul(payload, 2);
        uint64_t nr = 0, err = 0;
        if (f.size() != 2 || !parse_u64(f[0], &nr) || !parse_u64(f[1], &err)) return bad_record("notify errno");
        plan->notify_errno.emplace_back(static_cast<int>(nr), static_cast<int>(err));
        break;
      }
      case Tag::kKeeper:
        plan->keeper = true;
        break;
      case Tag::kJoin: {
        // "pid ino ino ino ino ino ino"
        size_t pos = 0;
        std::vector<uint64_t> nums;
        while (pos <= payload.size()) {
          size_t sp = payload.find(' ', pos);
          if (sp == std::string::npos) sp = payload.size();
          if (!parse_u64(payload.substr(pos, sp - pos), &num)) return bad_record("join");
          nums.push_back(num);
          pos = sp + 1;
        }
        if (nums.size() != 7 || nums[0] == 0 || nums[0] > 0x7fffffff) return bad_record("join");
        plan->join_pid = static_cast<int>(nums[0]);
        plan->join_inodes.assign(nums.begin() + 1, nums.end());
        break;
      }
      case Tag::kUnixGuard:
        if (payload == "netns") plan->unix_guard = UnixGuard::kNetns;
        else if (payload == "readonly") plan->unix_guard = UnixGuard::kReadOnly;
        else return bad_record("unix guard");
        break;
      case Tag::kUnixAllow:
        if (payload.empty() || payload[0] != '/') return bad_record("unix allow");
        plan->unix_allow.push_back(std::move(payload));
        break;
      case Tag::kEndSetup:
        if (plan->keeper && plan->join_pid) return bad_record("keeper and join are exclusive");
        return true;
      default:
        if (tag >= static_cast<uint32_t>(Tag::kNetworkFirst) && tag <= static_cast<uint32_t>(Tag::kNetworkLast)) {
          plan->network.emplace_back(tag, std::move(payload));
          break;
        }
        if (tag >= static_cast<uint32_t>(Tag::kLimitsFirst) && tag <= static_cast<uint32_t>(Tag::kLimitsLast)) {
          plan->limits.emplace_back(tag, std::move(payload));
          break;
        }
        return bad_record("unknown record tag");
    }
  }
}

}  // namespace

}  // namespace cordon
