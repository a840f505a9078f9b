// checkpoint_counter — a task that checkpoints the way mw-wrapper expects
// (docs/wrapper.md), for the wrapper tests.
//
//   checkpoint_counter STEPS STEP_SECONDS OUTPUT
//
// Counts from the step in $MW_CHECKPOINT_FILE (0 when there is none) up to
// STEPS, sleeping STEP_SECONDS per step; after each step it replaces the
// checkpoint file (temp file + rename) and writes its fraction done to
// $MW_PROGRESS_FILE. At the end it writes "started at K of STEPS\n" to OUTPUT,
// K being the step this run started from, so a test can see that a restarted
// task resumed instead of starting again.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace {

void replace_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: checkpoint_counter STEPS STEP_SECONDS OUTPUT\n");
    return 2;
  }
  const int steps = std::atoi(argv[1]);
  const double step_seconds = std::atof(argv[2]);
  const char* checkpoint = std::getenv("MW_CHECKPOINT_FILE");
  const char* progress = std::getenv("MW_PROGRESS_FILE");
  if (!checkpoint || !progress) {
    std::fprintf(stderr, "checkpoint_counter: MW_CHECKPOINT_FILE / MW_PROGRESS_FILE not set\n");
    return 3;
  }
  int step = 0;
  {
    std::ifstream in(checkpoint);
    if (in && !(in >> step)) step = 0;
  }
  const int started_at = step;
  std::printf("starting at step %d\n", started_at);
  std::fflush(stdout);
  while (step < steps) {
    std::this_thread::sleep_for(std::chrono::duration<double>(step_seconds));
    ++step;
    replace_file(checkpoint, std::to_string(step) + "\n");
    replace_file(progress, std::to_string(static_cast<double>(step) / steps) + "\n");
  }
  std::ofstream(argv[3]) << "started at " << started_at << " of " << steps << "\n";
  return 0;
}
