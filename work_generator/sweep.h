// sweep.h — a JSON-lines parameter sweep, one task per line.
//
//   {"program": "bin/sim", "args": ["--seed", "1"], "inputs": {"in.dat": "data/in1.dat"},
//    "outputs": {"out.txt": 1048576}, "name": "seed1", "fpops_est": 1e12}
//
// program  (required) a file shipped with the task (staged once, sticky)
// function (optional) makes it a function task of an mwkit worker program
// args     (optional) strings, in order
// inputs   (optional) member name -> file on this machine
// outputs  (optional) declared output -> byte limit
// name     (optional) task name (default: task<line number>)
// fpops_est, fpops_bound, memory_bound, disk_bound (optional) workunit settings
// Paths are relative to the sweep file's directory. Blank lines are skipped.
#pragma once

#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include "mw/boinc/work_creator.h"
#include "mw/bundle.h"

namespace mw::work_generator {

struct SweepTask {
  std::unique_ptr<TaskBuilder> builder;
  std::optional<boinc::WorkunitSettings> settings;  // set when the line overrides any
  std::size_t line = 0;
};

class SweepReader {
 public:
  // Errc::io naming the file when it cannot be opened.
  SweepReader(const std::string& path, const boinc::WorkunitSettings& defaults);
  ~SweepReader();
  // The next task, or false at the end. Errc::format naming "FILE:LINE" and
  // the field for anything malformed.
  bool next(SweepTask& task);

 private:
  std::string path_, dir_;
  boinc::WorkunitSettings defaults_;
  std::FILE* file_ = nullptr;
  std::size_t line_ = 0;
  std::set<std::string> checked_programs_;  // warned about once each (volunteers have only glibc)
};

}  // namespace mw::work_generator
