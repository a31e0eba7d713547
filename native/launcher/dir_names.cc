// cordon – the names a directory holds, for mask lookups (see dir_names.h).
#include "dir_names.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace cordon {
namespace {

// Directories with more entries than this are looked up name by name (a listing would cost more).
constexpr size_t kMaxEntries = 4096;
// A directory is listed after this many failed lookups in it: a failed lookup costs ~1-2 µs, a
// listing ~6 syscalls plus its entries (/etc: ~150, some 30 µs), so only a long run of missing names
// pays for one. The default profile's few misses per directory never reach it (measured: listing on
// the second lookup made its cold launch ~0.2 ms slower).
constexpr int kListAfterMisses = 8;
constexpr int kSlots = 4;

struct Listing {
  std::string dir;
  int misses = 0;
  bool listed = false;
  std::vector<std::string> names;  // sorted
};
Listing g_slots[kSlots];
int g_next_slot = 0;

Listing* find(const std::string& dir) {
  for (Listing& l : g_slots)
    if (!l.dir.empty() && l.dir == dir) return &l;
  return nullptr;
}

Listing* slot_for(const std::string& dir) {
  Listing* l = find(dir);
  if (!l) {
    l = &g_slots[g_next_slot];
    g_next_slot = (g_next_slot + 1) % kSlots;
    *l = Listing{};
    l->dir = dir;
  }
  return l;
}

// Whether names from getdents are exactly the names a lookup finds in this directory.
bool listing_is_exact(int fd) {
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case OVERLAYFS_SUPER_MAGIC:
      break;
    default:
      return false;
  }
  // Case folding (ext4, tmpfs): a lookup matches names the listing spells differently.
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return errno == ENOTTY && fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != TMPFS_MAGIC;
  return (flags & FS_CASEFOLD_FL) == 0;
}

// Reads the names of the directory open as `fd`; false if it cannot be listed exactly.
bool read_names(int fd, std::vector<std::string>* out) {
  const int dir = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;  // EACCES: searchable, not readable
  bool ok = listing_is_exact(dir);
  alignas(8) char buf[32768];
  while (ok) {
    const long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    for (long off = 0; off < n;) {
      // struct linux_dirent64: d_ino, d_off, d_reclen, d_type, d_name
      unsigned short reclen;
      std::memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char* name = buf + off + 19;
      if (std::strcmp(name, ".") != 0 && std::strcmp(name, "..") != 0) out->emplace_back(name);
      off += reclen;
    }
    if (out->size() > kMaxEntries) ok = false;
  }
  ::close(dir);
  if (ok) std::sort(out->begin(), out->end());
  return ok;
}

}  // namespace

bool dir_names_absent(const std::string& dir, const char* name) {
  const Listing* l = find(dir);
  return l && l->listed && !std::binary_search(l->names.begin(), l->names.end(), std::string(name));
}

void dir_names_missing(const std::string& dir) {
  Listing* l = slot_for(dir);
  l->listed = true;
  l->names.clear();
}

bool dir_names_wants_listing(const std::string& dir) {
  Listing* l = slot_for(dir);
  return !l->listed && ++l->misses == kListAfterMisses;
}

void dir_names_list(const std::string& dir, int fd) {
  Listing* l = slot_for(dir);
  l->listed = read_names(fd, &l->names);
  if (!l->listed) l->names.clear();
}

void dir_names_forget() {
  for (Listing& l : g_slots) l = Listing{};
  g_next_slot = 0;
}

}  // namespace cordon
