// cordon – the names a directory holds, listed once, so that a run of masks in one directory costs one listing instead of a lookup each.
//
// Most of a profile's denied paths do not exist (~330 of 356 in the scale bench's 1,000-rule
// profile), and each cost a failed lookup at every launch. The masks come sorted (depth, then path),
// so the ones in one directory, or with missing parents in one directory (/etc/vendor0/…,
// /etc/vendor12/…), follow each other. After a run of failed lookups in a directory it is listed;
// from then on a name it does not hold is known absent without a syscall, and a name it holds is
// looked up as before. The listing is exact for the run of masks: a mask mounts over an existing entry and adds
// no name, and any other mount op forgets every listing (dir_names_forget). A file the host creates
// meanwhile is as if created just after the lookup (a later command masks it).
//
// Only where a listing and a lookup agree on names: ext4, xfs, btrfs, tmpfs and overlayfs, never a
// case-folded directory (a lookup of "Key" finds "key") — elsewhere (procfs lists no thread
// directories, network filesystems, FUSE) every name is looked up.
#pragma once

#include <string>

namespace cordon {

// Whether `dir` (an absolute path in the new root) has been listed and holds no entry `name`.
bool dir_names_absent(const std::string& dir, const char* name);

// A lookup in `dir` found nothing: true when enough have (dir_names.cc) that listing it pays.
bool dir_names_wants_listing(const std::string& dir);

// Lists `dir`, open as `fd` (O_PATH or not); a directory that cannot be listed exactly stays unlisted.
void dir_names_list(const std::string& dir, int fd);

// `dir` does not exist: no name below it exists either (for the rest of the run).
void dir_names_missing(const std::string& dir);

// Drops every listing (before a mount op that can add a name: anything but a mask or a re-bind of a path on itself).
void dir_names_forget();

}  // namespace cordon
