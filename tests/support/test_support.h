// Helpers shared by the tests: scratch directories, small file I/O, running a tool.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mw/error.h"

namespace mw::test {

// A fresh directory under $TMPDIR, removed when the object dies.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);
// Every path (files, dirs, links) below `dir`, relative, sorted.
std::vector<std::string> list_tree(const std::string& dir);
// The same without directories: what a rollback must leave as it found it
// (BOINC's fan-out directories, once made, are part of the project).
std::vector<std::string> list_files(const std::string& dir);

struct CommandResult {
  int exit_code = -1;     // -1 when killed by a signal
  std::string out;        // stdout
  std::string err;        // stderr
};
// Runs argv (exec, no shell) with stdin closed, or read from `stdin_path`,
// and captures its output.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_path = "");

// Runs `f`, expects it to throw mw::Error with category `expected`, returns the message
// (so tests can check that it names the file and field).
template <typename F>
std::string error_of(F&& f, Errc expected) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an mw::Error";
  return "";
}

}  // namespace mw::test
