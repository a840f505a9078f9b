/* failing_sync_preload — a TEST DOUBLE of a failing disk, preloaded
 * (LD_PRELOAD) into a program under test and never shipped: fsync, fdatasync
 * and syncfs on a descriptor whose path is $MW_TEST_FAIL_SYNC_UNDER or below
 * it fail with EIO, as they do when the disk cannot write back what was
 * written. Every other call goes to the C library unchanged, so a test can
 * show that a program really takes its durability barrier (and stops there
 * when it fails) without a broken disk. The variable's path must be canonical
 * (it is compared with the /proc/self/fd link). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fails(int fd) {
  const char* under = getenv("MW_TEST_FAIL_SYNC_UNDER");
  if (!under || !*under) return 0;
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  const size_t len = strlen(under);
  return strncmp(path, under, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

typedef int (*sync_fn)(int);

static int call(const char* name, int fd) {
  if (fails(fd)) {
    errno = EIO;
    return -1;
  }
  sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

int fsync(int fd) { return call("fsync", fd); }
int fdatasync(int fd) { return call("fdatasync", fd); }
int syncfs(int fd) { return call("syncfs", fd); }
