// remove_tree: every tree a task can leave in its scratch directory goes,
// whatever its depth, its permissions or the descriptor limit; links are
// removed, never followed.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "util/fs.h"
#include "support/test_support.h"

namespace mw::detail {
namespace {

// Builds DEPTH nested directories "d/d/d/..." under `root` holding one
// descriptor at a time (paths that deep are longer than PATH_MAX), with a file
// at the bottom.
void make_deep_tree(const std::string& root, int depth) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < depth; ++i) {
    ASSERT_EQ(mkdirat(fd, "d", 0700), 0) << "at depth " << i;
    int next = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(next, 0);
    ::close(fd);
    fd = next;
  }
  int file = openat(fd, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ::close(file);
  ::close(fd);
}

class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t n) {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit low{n, saved_.rlim_max};
    setrlimit(RLIMIT_NOFILE, &low);
  }
  ~DescriptorLimit() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

TEST(RemoveTree, ThreeThousandDeepUnderALowDescriptorLimit) {
  test::ScratchDir dir;
  const std::string root = join_path(dir.path(), "scratch");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  make_deep_tree(root, 3000);
  {
    // Far fewer descriptors than levels: a walk holding one per level fails.
    DescriptorLimit limit(64);
    remove_tree(root);
  }
  EXPECT_FALSE(path_exists(root));
}

TEST(RemoveTree, LinksAreRemovedNotFollowed) {
  test::ScratchDir dir;
  const std::string outside = join_path(dir.path(), "outside");
  ASSERT_EQ(mkdir(outside.c_str(), 0700), 0);
  write_file_atomic(join_path(outside, "keep"), "precious");
  const std::string root = join_path(dir.path(), "scratch");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  ASSERT_EQ(symlink(outside.c_str(), join_path(root, "link").c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), join_path(dir.path(), "root-link").c_str()), 0);
  remove_tree(root);
  remove_tree(join_path(dir.path(), "root-link"));
  EXPECT_FALSE(path_exists(root));
  EXPECT_FALSE(path_exists(join_path(dir.path(), "root-link")));
  EXPECT_EQ(read_file(join_path(outside, "keep")), "precious");
}

// Run as a user without privileges (root ignores permissions, so the test
// drops to nobody in a child when it runs as root): directories the task made
// unreadable, unsearchable and unwritable still go.
TEST(RemoveTree, DirectoriesWithoutPermissionsGo) {
  test::ScratchDir dir;
  const std::string root = join_path(dir.path(), "scratch");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0) {
      if (chown(root.c_str(), 65534, 65534) != 0 || chmod(dir.path().c_str(), 0777) != 0 ||
          setgid(65534) != 0 || setuid(65534) != 0)
        _exit(10);
    }
    const std::string a = join_path(root, "a");
    const std::string b = join_path(a, "b");
    if (mkdir(a.c_str(), 0700) != 0 || mkdir(b.c_str(), 0700) != 0) _exit(11);
    int fd = ::open(join_path(b, "f").c_str(), O_WRONLY | O_CREAT, 0600);
    if (fd < 0) _exit(12);
    ::close(fd);
    if (mkdir(join_path(root, "empty-locked").c_str(), 0) != 0) _exit(13);
    if (chmod(b.c_str(), 0) != 0 || chmod(a.c_str(), 0500) != 0 || chmod(root.c_str(), 0) != 0)
      _exit(14);
    remove_tree(root);
    _exit(path_exists(root) ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the tree is still there; 10+: setup failed";
  chmod(dir.path().c_str(), 0700);
}

TEST(RemoveTree, MissingPathIsIgnoredAndPlainFileIsRemoved) {
  test::ScratchDir dir;
  remove_tree(join_path(dir.path(), "nothing"));
  const std::string file = join_path(dir.path(), "file");
  write_file_atomic(file, "x");
  remove_tree(file);
  EXPECT_FALSE(path_exists(file));
}

}  // namespace
}  // namespace mw::detail
