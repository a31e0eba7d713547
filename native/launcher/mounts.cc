// cordon – the sandbox's fresh mount tree, built from the plan's mount ops, then pivot_root into it.
//
// Layout while building (all inside our private mount namespace, invisible to the host): the
// host's tree, where bind sources are looked up by their own paths, with the sandbox's root tmpfs
// stacked on a directory no source lies in (the "stage", normally /proc: a fresh one is mounted
// inside the sandbox anyway). pivot_root(".", ".") from the stage then makes the tmpfs the root and
// one lazy umount detaches the whole host tree.
// Sources and destinations are opened with openat2(RESOLVE_NO_SYMLINKS): the planner resolved
// every path already, so a symlink appearing now means the tree changed under us (a swap race, or a
// link planted by an earlier run), and we fail closed instead of following it. Binds use the new
// mount API (open_tree + mount_setattr + move_mount) on those fds, so nothing is re-resolved by path.
#include "mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dir_names.h"
#include "kernel_abi.h"
#include "report.h"

namespace cordon {
namespace {

using abi::MountAttr;

// A tiny fd holder so early returns never leak descriptors.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  void reset(int fd) { if (fd_ >= 0) ::close(fd_); fd_ = fd; }
  int release() { int fd = fd_; fd_ = -1; return fd; }
 private:
  int fd_;
};

// Filesystems cordon created (the root tmpfs, /tmp, /dev, …): the only places we may create mountpoints.
dev_t g_own_devs[64];
int g_own_dev_count = 0;

bool is_own_dev(dev_t dev) {
  for (int i = 0; i < g_own_dev_count; ++i)
    if (g_own_devs[i] == dev) return true;
  return false;
}

void remember_own_fs(int mnt_fd) {
  struct stat st;
  if (g_own_dev_count < 64 && ::fstat(mnt_fd, &st) == 0) g_own_devs[g_own_dev_count++] = st.st_dev;
}

int open_no_symlinks(int dirfd, const char* path, uint64_t flags) {
  abi::OpenHow how = {flags | O_CLOEXEC, 0, abi::kResolveNoSymlinks | abi::kResolveNoMagiclinks};
  int fd;
  do fd = abi::openat2(dirfd, path, &how); while (fd < 0 && errno == EINTR);
  return fd;
}

int g_newroot_fd = -1;  // O_PATH fd of the new root (the tmpfs on the stage), opened once
std::string g_source_prefix;  // where the host's tree is: "" on a stage, "/oldroot" under a scratch root

// Opens `name` in the open directory `parent` (a real fd, not O_PATH) as an O_PATH fd, creating it
// first (an empty directory or file; one that exists already stays) if `parent` is one of cordon's
// own filesystems (`own`): never a mountpoint inside a host directory.
int create_leaf(int parent, bool own, const std::string& name, bool dir) {
  if (own) {
    const int rc = dir ? ::mkdirat(parent, name.c_str(), 0755) : ::mknodat(parent, name.c_str(), S_IFREG | 0644, 0);
    if (rc != 0 && errno != EEXIST) return -1;
  }
  return open_no_symlinks(parent, name.c_str(), O_PATH);
}

int open_mountpoint(const std::string& dst, bool want_dir, bool create);

// The directory the last mountpoint or leaf was made in, opened for real, with whether it is one of
// cordon's own filesystems: the plan makes runs of them in one directory (/dev/null … /dev/tty,
// the links in /dev, /etc … /usr in the root), each then one lookup of its name instead of a walk
// of its path and a reopen of its directory. Reusing it is exact: what is mounted on a child of
// the directory changes neither the directory nor the lookup of its other children. Any op of
// another kind, or in another directory, replaces it, so a mount on the directory itself (or above
// it) is always seen by the next lookup.
struct LeafParent {
  std::string path;  // relative to the new root: "." or "dev", "tmp/ws", …
  int fd = -1;
  bool own = false;
} g_leaf_parent;

void forget_leaf_parent() {
  if (g_leaf_parent.fd >= 0) ::close(g_leaf_parent.fd);
  g_leaf_parent = LeafParent{};
}

// The directory `rel` (relative to the new root), created if missing; a borrowed fd, or -1.
int leaf_parent(const std::string& rel) {
  if (g_leaf_parent.fd >= 0 && g_leaf_parent.path == rel) return g_leaf_parent.fd;
  forget_leaf_parent();
  int fd = open_no_symlinks(g_newroot_fd, rel.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0 && errno == ENOENT && rel != ".") {
    // A missing directory: made in its own parent, the same way (on cordon's own filesystems only).
    Fd path(open_mountpoint("/" + rel, true, true));
    if (!path.ok()) return -1;
    fd = ::openat(path.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // O_PATH fds cannot create
    forget_leaf_parent();  // the parent's, cached by that call
  }
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return -1;
  }
  g_leaf_parent.path = rel;
  g_leaf_parent.fd = fd;
  g_leaf_parent.own = is_own_dev(st.st_dev);
  return fd;
}

// Splits an absolute path into its directory relative to the new root ("." for the root) and name.
void split_leaf(const std::string& dst, std::string* dir, std::string* name) {
  const size_t last = dst.rfind('/');
  *dir = last == 0 ? std::string(".") : dst.substr(1, last - 1);
  *name = dst.substr(last + 1);
}

// Opens the mountpoint for `dst` under the new root (an O_PATH fd), creating it when `create`:
// usually only the leaf is missing (/dev/null in cordon's /dev, /usr in its root), and its
// directory is the cached one. want_dir decides what a created leaf is; directories above it are
// created as directories. Without `create`, one openat2 of the whole path.
int open_mountpoint(const std::string& dst, bool want_dir, bool create) {
  const char* rel = dst.c_str() + 1;  // dst is absolute
  if (create && *rel) {
    std::string dir_rel, name;
    split_leaf(dst, &dir_rel, &name);
    const int dir = leaf_parent(dir_rel);
    return dir < 0 ? -1 : create_leaf(dir, g_leaf_parent.own, name, want_dir);
  }
  return open_no_symlinks(g_newroot_fd, *rel ? rel : ".", O_PATH);
}

bool attach(int mnt_fd, int target_fd) {
  return abi::move_mount(mnt_fd, "", target_fd, "", abi::kMoveMountFEmptyPath | abi::kMoveMountTEmptyPath) == 0;
}

bool set_attrs(int tree_fd, uint64_t set, bool recursive) {
  MountAttr attr = {set, 0, 0, 0};
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  return abi::mount_setattr(tree_fd, "", flags, &attr) == 0;
}

// Creates a detached filesystem instance (tmpfs, proc, devpts) configured by "k=v,k=v" options.
int make_fs(const char* type, const std::string& options, unsigned attrs) {
  Fd fs(abi::fsopen(type, 1 /* FSOPEN_CLOEXEC */));
  if (!fs.ok()) return -1;
  size_t pos = 0;
  while (pos < options.size()) {
    size_t comma = options.find(',', pos);
    if (comma == std::string::npos) comma = options.size();
    std::string kv = options.substr(pos, comma - pos);
    pos = comma + 1;
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    int rc;
    if (eq == std::string::npos) {
      rc = abi::fsconfig(fs.get(), 0 /* FSCONFIG_SET_FLAG */, key.c_str(), nullptr, 0);
    } else {
      std::string value = kv.substr(eq + 1);
      rc = abi::fsconfig(fs.get(), abi::kFsconfigSetString, key.c_str(), value.c_str(), 0);
    }
    if (rc != 0) return -1;
  }
  if (abi::fsconfig(fs.get(), abi::kFsconfigCmdCreate, nullptr, nullptr, 0) != 0) return -1;
  return abi::fsmount(fs.get(), 1 /* FSMOUNT_CLOEXEC */, attrs);
}

// A bind onto "/" itself (a read root of /) becomes what the rest is built on: later ops resolve in
// it, and it is what pivot_root makes the root. The planner sends it first. Without this, the ops
// before it would lie under it, hidden, and the ops after it would land under it too (fail open).
bool bind_root(int tree) {
  if (!attach(tree, g_newroot_fd)) return fail("mount", "move_mount", "/");
  int fd = ::fcntl(tree, F_DUPFD_CLOEXEC, 0);  // the attached tree's root: the new root from now on
  if (fd < 0) return fail("mount", "fcntl", "/");
  ::close(g_newroot_fd);
  g_newroot_fd = fd;
  return true;
}

bool bind(const MountOp& op, uint64_t attrs) {
  const std::string src = g_source_prefix + op.src;
  Fd src_fd(open_no_symlinks(AT_FDCWD, src.c_str(), O_PATH));
  if (!src_fd.ok()) return fail("mount", "openat2", src.c_str());
  struct stat st;
  if (::fstat(src_fd.get(), &st) != 0) return fail("mount", "fstat", src.c_str());
  Fd target(open_mountpoint(op.dst, S_ISDIR(st.st_mode), true));
  if (!target.ok()) return fail("mount", "openat2", op.dst.c_str());
  Fd tree(abi::open_tree(src_fd.get(), "", abi::kOpenTreeClone | AT_EMPTY_PATH | AT_RECURSIVE | O_CLOEXEC));
  if (!tree.ok()) return fail("mount", "open_tree", src.c_str());
  if (!set_attrs(tree.get(), attrs, true)) return fail("mount", "mount_setattr", op.dst.c_str());
  if (op.dst == "/") return bind_root(tree.get());
  return attach(tree.get(), target.get()) || fail("mount", "move_mount", op.dst.c_str());
}

bool mount_fs(const MountOp& op, const char* type, const std::string& options, unsigned attrs) {
  Fd target(open_mountpoint(op.dst, true, true));
  if (!target.ok()) return fail("mount", "openat2", op.dst.c_str());
  Fd mnt(make_fs(type, options, attrs));
  if (!mnt.ok()) return fail("mount", "fsmount", (std::string(type) + " " + op.dst).c_str());
  remember_own_fs(mnt.get());
  return attach(mnt.get(), target.get()) || fail("mount", "move_mount", op.dst.c_str());
}

// What masks are cloned from: a tiny tmpfs holding an empty mode-000 file and an empty mode-000
// directory, made read-only once. A clone inherits the read-only flag, so each mask costs one
// open_tree and one move_mount; and it exists for a session command as much as for a new sandbox.
// The last close of a *detached* mount unmounts it, and every unmount waits for an expedited RCU
// grace period (tens of µs, milliseconds on a busy VM): so build_root attaches it under the new
// root, where the one lazy umount of the host tree takes it along, and closes it before that.
int g_mask_source = -1;
constexpr char kMaskSourceOptions[] = "size=4k,nr_inodes=4,mode=0755";

// Fills a fresh mask source (an fd of its root) and makes it read-only; the fd, or -1.
int fill_mask_source(Fd root) {
  if (!root.ok() || ::mknodat(root.get(), "file", S_IFREG, 0) != 0 || ::mkdirat(root.get(), "dir", 0) != 0) return -1;
  if (!set_attrs(root.get(), abi::kMountAttrRdonly | abi::kMountAttrNosuid | abi::kMountAttrNodev | abi::kMountAttrNoexec, false))
    return -1;
  return root.release();
}

// The mask source of a session command: a detached mount.
int mask_source() {
  if (g_mask_source < 0)
    g_mask_source = fill_mask_source(Fd(make_fs("tmpfs", kMaskSourceOptions, abi::kMountAttrNosuid | abi::kMountAttrNodev | abi::kMountAttrNoexec)));
  return g_mask_source;
}

// The mask source of a new sandbox, mounted on the stage (as the root tmpfs is, on top of it next).
bool stage_mask_source(const char* stage) {
  if (::mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, kMaskSourceOptions) != 0)
    return fail("mask", "mount", "mask source");
  g_mask_source = fill_mask_source(Fd(open_no_symlinks(AT_FDCWD, stage, O_RDONLY | O_DIRECTORY)));
  return g_mask_source >= 0 || fail("mask", "create", "mask source");
}

void close_mask_source() {
  if (g_mask_source >= 0) ::close(g_mask_source);
  g_mask_source = -1;
}

// The directory of the last mask, looked up once for all the masks in it (the plan sorts masks by
// depth, then path, so the masks of one directory come one after another) instead of a lookup of
// the whole path per mask; the kernel's clone and attach of each mask remain most of its cost.
// Reusing it is exact: a mask mounted on a child of the directory changes neither the directory
// nor the lookup of its other children. Any other op forgets it, and a mask in another directory
// replaces it, so the next lookup sees every mount made so far. A directory that does not exist is
// remembered as such: none of its children exist.
struct MaskParent {
  std::string path;
  int fd = -1;
  int err = 0;
} g_mask_parent;

void close_mask_parent() {
  if (g_mask_parent.fd >= 0) ::close(g_mask_parent.fd);
  g_mask_parent = MaskParent{};
}

// Before any op but a mask: the next mask looks everything up afresh (names, too, unless the op
// only re-binds a path on itself, which adds none).
void forget_mask_parent(MountKind next) {
  close_mask_parent();
  if (next != MountKind::kMask && next != MountKind::kRemountRo && next != MountKind::kPin) dir_names_forget();
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

// Whether the listings already say `path` does not exist (its directory lacks it, or is missing).
bool known_absent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash != std::string::npos && path != "/" && dir_names_absent(dir_of(path), path.c_str() + slash + 1);
}

// A lookup of `path` found nothing: after a run of such in one directory, that directory is listed
// (or, when it is missing itself, remembered as such), so the rest of the run costs no lookup.
void note_absent(const std::string& path) {
  const std::string dir = dir_of(path);
  if (dir == "/" || !dir_names_wants_listing(dir)) return;
  Fd fd(open_mountpoint(dir, true, false));
  if (fd.ok()) dir_names_list(dir, fd.get());
  else if (errno == ENOENT || errno == ENOTDIR) dir_names_missing(dir);
}

// Opens the directory of masks (`parent`, of the plan's masks sorted by depth then path). A missing
// one is often one of many missing siblings (/etc/vendor0, /etc/vendor12 …).
void open_mask_parent(const std::string& parent) {
  close_mask_parent();
  g_mask_parent.path = parent;
  if (known_absent(parent)) {
    g_mask_parent.err = ENOENT;
    return;
  }
  g_mask_parent.fd = open_mountpoint(parent, true, false);
  g_mask_parent.err = g_mask_parent.fd < 0 ? errno : 0;
  if (g_mask_parent.fd < 0 && errno == ENOENT) note_absent(parent);
}

// Opens a mask's target: its directory (shared with the previous mask when the same) plus the name.
int open_mask_target(const std::string& dst) {
  const size_t slash = dst.rfind('/');
  if (slash == 0 || slash == std::string::npos) return open_mountpoint(dst, true, false);
  const std::string parent = dst.substr(0, slash);
  if (g_mask_parent.path != parent) open_mask_parent(parent);
  if (g_mask_parent.fd < 0) {
    errno = g_mask_parent.err;
    return -1;
  }
  const char* name = dst.c_str() + slash + 1;
  if (dir_names_absent(parent, name)) {
    errno = ENOENT;
    return -1;
  }
  // Most denied paths do not exist: a stat says so without the file an open allocates (~0.6 µs
  // each, for ~100 paths in the default profile). What exists is opened as before; one created in
  // between is as if created just after the open, and one that is a symlink fails there (ELOOP).
  struct stat st;
  const bool found = ::fstatat(g_mask_parent.fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  const int err = errno;
  if (!found && err == ENOENT && dir_names_wants_listing(parent)) dir_names_list(parent, g_mask_parent.fd);
  if (!found) {
    errno = err;
    return -1;
  }
  return open_no_symlinks(g_mask_parent.fd, name, O_PATH);
}

// Masks a denied path: the empty, read-only, mode-000 directory over a directory, or the empty
// mode-000 file over anything else. A path that does not exist has nothing to hide and is skipped.
bool mask(const MountOp& op) {
  Fd target(open_mask_target(op.dst));
  if (!target.ok() && errno == ELOOP) {
    // The denied path is (or goes through) a symlink, which cannot be mounted over: hide what it
    // leads to inside the sandbox's view instead (resolved within the new root, so an absolute
    // link means the sandbox's path, never the host's). A dangling one leads nowhere.
    abi::OpenHow how = {O_PATH | O_CLOEXEC, 0, abi::kResolveInRoot | abi::kResolveNoMagiclinks};
    int fd;
    do fd = abi::openat2(g_newroot_fd, op.dst.c_str() + 1, &how); while (fd < 0 && errno == EINTR);
    target.reset(fd);
  }
  if (!target.ok()) {
    // ENOTDIR: a component is a file (`.git` in a git worktree), so the path cannot exist either.
    if (errno == ENOENT || errno == ENOTDIR) return true;
    return fail("mask", "openat2", op.dst.c_str());
  }
  struct stat st;
  if (::fstat(target.get(), &st) != 0) return fail("mask", "fstat", op.dst.c_str());
  int source = mask_source();
  if (source < 0) return fail("mask", "fsmount", "mask source");
  Fd tree(abi::open_tree(source, S_ISDIR(st.st_mode) ? "dir" : "file", abi::kOpenTreeClone | O_CLOEXEC));
  if (!tree.ok()) return fail("mask", "open_tree", "mask source");
  return attach(tree.get(), target.get()) || fail("mask", "move_mount", op.dst.c_str());
}

// Re-binds an already visible path on top of itself: read-only (e.g. /proc/sys, .git/hooks), or
// read-write to pin it (a mountpoint cannot be renamed or removed, so `.git` cannot be swapped for
// a fresh directory whose config nobody protected).
bool rebind(const MountOp& op, bool read_only) {
  if (known_absent(op.dst)) return true;
  Fd target(open_mountpoint(op.dst, true, false));
  if (!target.ok()) {
    const int err = errno;
    if (err == ENOENT) note_absent(op.dst);
    errno = err;
    if (err == ENOENT || err == ENOTDIR) return true;
    return fail("remount-ro", "openat2", op.dst.c_str());
  }
  Fd tree(abi::open_tree(target.get(), "", abi::kOpenTreeClone | AT_EMPTY_PATH | AT_RECURSIVE | O_CLOEXEC));
  if (!tree.ok()) return fail("remount-ro", "open_tree", op.dst.c_str());
  const uint64_t attrs = (read_only ? abi::kMountAttrRdonly : 0) | abi::kMountAttrNosuid | abi::kMountAttrNodev;
  if (!set_attrs(tree.get(), attrs, true)) return fail("remount-ro", "mount_setattr", op.dst.c_str());
  return attach(tree.get(), target.get()) || fail("remount-ro", "move_mount", op.dst.c_str());
}

bool make_leaf(const MountOp& op) {
  std::string parent, name;
  split_leaf(op.dst, &parent, &name);
  const int dir = leaf_parent(parent);
  if (dir < 0) return fail("mount", "openat2", op.dst.c_str());
  if (!g_leaf_parent.own) {
    errno = EXDEV;
    return fail("mount", "create", (op.dst + " (outside cordon's own root)").c_str());
  }
  if (op.kind == MountKind::kSymlink) {
    return ::symlinkat(op.src.c_str(), dir, name.c_str()) == 0 || fail("mount", "symlinkat", op.dst.c_str());
  }
  if (op.kind == MountKind::kDir) {
    return ::mkdirat(dir, name.c_str(), 0755) == 0 || errno == EEXIST || fail("mount", "mkdirat", op.dst.c_str());
  }
  mode_t mode = op.opt.empty() ? 0644 : static_cast<mode_t>(std::strtoul(op.opt.c_str(), nullptr, 8));
  Fd f(::openat(dir, name.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode));
  if (!f.ok()) return fail("mount", "openat", op.dst.c_str());
  const char* p = op.src.data();
  size_t left = op.src.size();
  while (left > 0) {
    ssize_t n = ::write(f.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("mount", "write", op.dst.c_str());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

bool apply(const MountOp& op) {
  constexpr unsigned kRo = abi::kMountAttrRdonly | abi::kMountAttrNosuid | abi::kMountAttrNodev;
  constexpr unsigned kRw = abi::kMountAttrNosuid | abi::kMountAttrNodev;
  if (op.kind != MountKind::kMask) forget_mask_parent(op.kind);
  if (op.dst == "/" || op.kind == MountKind::kMask || op.kind == MountKind::kRemountRo || op.kind == MountKind::kPin)
    forget_leaf_parent();
  switch (op.kind) {
    case MountKind::kBindRo: return bind(op, kRo);
    case MountKind::kBindRw: return bind(op, kRw);
    case MountKind::kBindDev: return bind(op, abi::kMountAttrNosuid | abi::kMountAttrNoexec);
    case MountKind::kTmpfs: return mount_fs(op, "tmpfs", op.opt, kRw);
    case MountKind::kProc:
      // Read-only: a write to any /proc file (sysctl, sysrq-trigger, /proc/self/mem …) fails with EROFS.
      return mount_fs(op, "proc", op.opt, abi::kMountAttrRdonly | abi::kMountAttrNosuid | abi::kMountAttrNodev | abi::kMountAttrNoexec);
    case MountKind::kDevpts: return mount_fs(op, "devpts", op.opt, abi::kMountAttrNosuid | abi::kMountAttrNoexec);
    case MountKind::kMask: return mask(op);
    case MountKind::kRemountRo: return rebind(op, true);
    case MountKind::kPin: return rebind(op, false);
    case MountKind::kSymlink:
    case MountKind::kDir:
    case MountKind::kFile: return make_leaf(op);
  }
  errno = EINVAL;
  return fail("mount", "plan", "unknown op");
}

bool is_proc_protection(const MountOp& op) {
  return op.kind == MountKind::kRemountRo && op.dst.compare(0, 6, "/proc/") == 0;
}

}  // namespace

bool apply_protections(const std::vector<MountOp>& ops) {
  g_newroot_fd = open_no_symlinks(AT_FDCWD, "/", O_PATH | O_DIRECTORY);
  if (g_newroot_fd < 0) return fail("mount", "openat2", "/");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("mount", "mount", "/ rprivate");
  bool ok = true;
  for (const MountOp& op : ops) {
    // A fresh /proc for this pid namespace, then every read-only re-bind and mask, for the paths
    // that exist now (an earlier command may have created a protected path or a masked file).
    if (op.kind == MountKind::kProc || op.kind == MountKind::kRemountRo || op.kind == MountKind::kPin ||
        op.kind == MountKind::kMask) {
      if (!(ok = apply(op))) break;
    }
  }
  forget_mask_parent(MountKind::kDir);
  forget_leaf_parent();
  ::close(g_newroot_fd);
  g_newroot_fd = -1;
  return ok;
}

// The stage: a top-level directory of the host (a real one, not a link) that is neither a bind
// source nor holds one, so stacking the new root on it hides no source.
const char* pick_stage(const std::vector<MountOp>& ops) {
  static const char* const kCandidates[] = {"/proc", "/sys", "/run", "/mnt", "/srv", "/media", "/boot"};
  for (const char* c : kCandidates) {
    const size_t n = std::strlen(c);
    bool used = false;
    for (const MountOp& op : ops) {
      if (op.kind != MountKind::kBindRo && op.kind != MountKind::kBindRw && op.kind != MountKind::kBindDev) continue;
      // A source at or below the candidate, or one that holds it (a read root of /, review 3 H3).
      if (op.src.compare(0, n, c) == 0 && (op.src.size() == n || op.src[n] == '/')) used = true;
      if (op.src == "/" || (std::strncmp(c, op.src.c_str(), op.src.size()) == 0 && c[op.src.size()] == '/')) used = true;
    }
    struct stat st;
    if (!used && ::lstat(c, &st) == 0 && S_ISDIR(st.st_mode)) return c;
  }
  return nullptr;
}

bool build_root(const std::vector<MountOp>& ops, bool keeper, bool defer_detach) {
  // Stop mount events propagating back to the host before touching anything.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("mount", "mount", "/ rprivate");
  const char* stage = pick_stage(ops);
  const bool scratch = stage == nullptr;
  if (scratch) {
    // No free stage (a read root of / holds every candidate, and a recursive bind of it would take
    // in the new root too): the host's tree moves below a scratch tmpfs first, at /oldroot, where
    // sources are looked up, and the new root is built beside it at /newroot.
    if (::mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") != 0)
      return fail("mount", "mount", "scratch tmpfs");
    if (::chdir("/tmp") != 0) return fail("mount", "chdir", "scratch");
    if (::mkdir("newroot", 0755) != 0 || ::mkdir("oldroot", 0755) != 0) return fail("mount", "mkdir", "scratch dirs");
    if (::syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") != 0) return fail("mount", "pivot_root", "scratch");
    if (::chdir("/") != 0) return fail("mount", "chdir", "/");
    g_source_prefix = "/oldroot";
    stage = "/newroot";
  }
  // The mask source (when there are masks) goes on the stage first, under the new root: part of the
  // tree that is detached below, so closing it costs no unmount of its own (see mask_source).
  for (const MountOp& op : ops) {
    if (op.kind != MountKind::kMask) continue;
    if (!stage_mask_source(stage)) return false;
    break;
  }
  // The new root hides the stage only inside this namespace (the host's /proc, normally).
  if (::mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=4096") != 0)
    return fail("mount", "mount", "root tmpfs");
  g_newroot_fd = open_no_symlinks(AT_FDCWD, stage, O_PATH | O_DIRECTORY);
  if (g_newroot_fd < 0) return fail("mount", "openat2", stage);
  struct stat st;
  if (::fstat(g_newroot_fd, &st) != 0) return fail("mount", "fstat", stage);
  g_own_devs[g_own_dev_count++] = st.st_dev;
  TRACE_STEP("mount: root tmpfs staged");

#ifdef CORDON_TRACE
  MountKind last = ops.empty() ? MountKind::kDir : ops.front().kind;
#endif
  for (const MountOp& op : ops) {
    if (keeper && is_proc_protection(op)) continue;
#ifdef CORDON_TRACE
    if (op.kind != last) TRACE_STEP(("mount: ops before " + op.dst).c_str());
    last = op.kind;
#endif
    if (!apply(op)) return false;
  }
  TRACE_STEP("mount: all ops");

  forget_mask_parent(MountKind::kDir);
  forget_leaf_parent();
  close_mask_source();  // attached: this close unmounts nothing
  if (scratch && ::umount2("/oldroot", MNT_DETACH) != 0) return fail("mount", "umount2", "/oldroot");
  // The new root becomes the root, the tree it was built in (the host's, or the scratch root) is
  // stacked on top of it by pivot_root(".", "."), and one lazy umount of "." detaches it.
  int rc = ::fchdir(g_newroot_fd);
  ::close(g_newroot_fd);
  g_newroot_fd = -1;
  if (rc != 0) return fail("mount", "fchdir", stage);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return fail("mount", "pivot_root", stage);
  TRACE_STEP("mount: pivoted");
  // Until the detach, "/" and "." still resolve in the new root (a lookup never climbs onto the
  // tree stacked on its starting point), so the caller may go on with what needs no mounts.
  return defer_detach || detach_host_tree();
}

bool detach_host_tree() {
  if (::umount2(".", MNT_DETACH) != 0) return fail("mount", "umount2", "host tree");
  TRACE_STEP("mount: host tree detached");
  if (::chdir("/") != 0) return fail("mount", "chdir", "/");
  // Mountpoints exist now; nobody creates anything at the top level of the sandbox.
  if (::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0)
    return fail("mount", "mount", "/ read-only");
  return true;
}

}  // namespace cordon
