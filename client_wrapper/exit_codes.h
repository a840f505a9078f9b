// The exit statuses of mw-wrapper (passed to boinc_finish), the contract with
// whoever reads a failed result's exit_status. docs/wrapper.md lists them too.
//
// A task that ran ends with 0 whatever it did — success, non-zero exit, a
// limit exceeded, a missing output — because result.zip then tells exactly
// what happened (docs/boinc-conventions.md: "a task that ran and failed still
// produces a result bundle and exits 0"). Every non-zero status below means
// the task never ran, or its result could not be written, and each cause has
// its own number so the project can tell them apart from the exit_status
// column without the host's stderr.txt.
#pragma once

namespace mw::wrapper {

enum ExitCode : int {
  kExitRan = 0,                 // the task ran; result.zip holds its status
  kExitUsage = 64,              // the wrapper's own command line is wrong
  kExitSignature = 65,          // task.sig missing or malformed, untrusted key, or wrong signature
  kExitIntegrity = 66,          // a file's size or SHA-256 differs from task.xml (program file too)
  kExitManifest = 67,           // task.xml is malformed or missing from the bundle
  kExitUnsafeBundle = 68,       // container refused: links, bombs, over the unpack limits
  kExitMissingInput = 69,       // task.zip, the program file or every trusted key is missing/unreadable
  kExitResultNotWritten = 70,   // the task ran but result.zip could not be written
  kExitInternal = 71,           // the slot directory could not be prepared (I/O, system)
  kExitAborted = 194,           // aborted by the client (BOINC's EXIT_ABORTED_BY_CLIENT)
};

}  // namespace mw::wrapper
