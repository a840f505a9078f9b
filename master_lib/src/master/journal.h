// Internal: the master's journal — what was submitted, finished and delivered,
// in SQLite (WAL) under the master's work directory, so a master restarted on
// the same directory resumes without recomputing or re-delivering.
//
// A restarted program submits its tasks again in the same order, so task ids
// line up with the journal; a fingerprint of each task guards against a
// program that changed in between.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mw/result.h"

namespace mw::detail {

class Journal {
 public:
  enum class State { submitted, finished, delivered, cancelled };
  struct Record {
    State state = State::submitted;
    std::optional<Outcome> outcome;  // for finished and delivered
  };

  // Opens or creates WORK_DIR/journal.sqlite (creating WORK_DIR if needed).
  // Throws Error(Errc::journal) naming the file.
  explicit Journal(const std::string& work_dir);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const;

  // Records submission `id` with `fingerprint`. If the journal already knows
  // `id`, the fingerprints must match (else Errc::journal: "task 17 differs from
  // the one the journal recorded in an earlier run") and its record comes back.
  std::optional<Record> submit(std::uint64_t id, std::string_view fingerprint);
  // Durable before return (a SIGKILL right after loses nothing).
  void finished(std::uint64_t id, const Outcome& outcome);
  void delivered(std::uint64_t id);
  void cancelled(std::uint64_t id);

  // Counts by state, for status() and tests.
  std::uint64_t count(State state) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Outcome <-> bytes (cereal portable binary, versioned); also used to move
// outcomes between processes.
std::string encode_outcome(const Outcome& outcome);
Outcome decode_outcome(std::string_view bytes, const std::string& what);

}  // namespace mw::detail
