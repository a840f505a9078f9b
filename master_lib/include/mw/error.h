// mw/error.h — the one exception type mwkit throws.
//
// Every error carries a category (so callers can branch) and a message that
// names what failed and where: the file, the field, the row. Messages are
// written for the person who has to fix the input, not for the programmer.
#pragma once

#include <stdexcept>
#include <string>

namespace mw {

enum class Errc {
  io,             // a file or directory could not be read, written or created
  format,         // a manifest, result or config file is malformed (names file and field)
  signature,      // a signature is missing, malformed, made by an untrusted key, or wrong
  integrity,      // a file's size or SHA-256 differs from what its manifest pins
  unsafe_bundle,  // a bundle tries to escape its directory, holds links/devices, or is a bomb
  usage,          // the caller asked for something impossible (bad name, duplicate, ...)
  system,         // an operating-system call failed (fork, pipe, rlimit, ...)
  task_failed,    // a task ran and failed (see mw::TaskFailed for the details)
  unknown_task,   // a task handle the master never issued, or one already delivered
  cancelled,      // the task was cancelled before it finished
  journal,        // the master's journal disagrees with the program or cannot be written
  database,       // the BOINC project database refused a statement or cannot be reached
  remote,         // a remote server (BOINC's web RPCs) refused a request or cannot be reached
};

const char* to_string(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace mw
