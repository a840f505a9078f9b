// bench_bundle — what packing/signing and verifying/unpacking a task costs,
// against the floor of doing the same job with standard tools: `sha256sum` of
// the payload plus `unzip` of the bundle.
//
//   bench_bundle [--quick]     (--quick: 1 KB and 1 MB only, fewer repeats)
//
// Target (issue 2): verify+unpack within 1.5x of the floor at 100 MB.
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <random>

#include "bench_common.h"
#include "mw/bundle.h"
#include "mw/signing.h"

namespace {

using mw::bench::emit;
using mw::bench::median_seconds;

// Incompressible bytes: the worst case for both sides (deflate gains nothing).
void write_payload(const std::string& path, std::size_t size) {
  std::mt19937_64 rng(42);
  std::string block(1 << 20, '\0');
  std::ofstream f(path, std::ios::binary);
  for (std::size_t done = 0; done < size;) {
    for (std::size_t i = 0; i + 8 <= block.size(); i += 8) {
      std::uint64_t v = rng();
      std::memcpy(&block[i], &v, 8);
    }
    std::size_t n = std::min(block.size(), size - done);
    f.write(block.data(), static_cast<std::streamsize>(n));
    done += n;
  }
}

void bench_size(std::size_t size, const std::string& label, int repeats) {
  mw::bench::BenchDir dir;
  const std::string payload = dir / "payload.bin";
  write_payload(payload, size);
  const auto key = mw::PrivateKey::generate();
  const std::vector<mw::PublicKey> trusted{key.public_key()};
  const std::string bundle = dir / "task.zip";
  const std::string out = dir / "out";
  nlohmann::json params = {{"payload", label}, {"payload_bytes", size}, {"repeats", repeats}};

  double pack = median_seconds(
      repeats,
      [&] {
        mw::TaskBuilder task("bench");
        task.host_program("/bin/true").file(payload).write_bundle(bundle, key);
      },
      [&] { std::remove(bundle.c_str()); });
  emit("bundle", "pack_sign_seconds", pack, "s", params);

  auto fresh_out = [&] {
    mw::bench::remove_tree(out);
    mkdir(out.c_str(), 0700);
  };
  double verify = median_seconds(
      repeats,
      [&] {
        auto b = mw::TaskBundle::open(bundle);
        b.verify_signature(trusted);
        b.extract_to(out);
      },
      fresh_out);
  emit("bundle", "verify_unpack_seconds", verify, "s", params);

  double floor_hash = median_seconds(repeats, [&] { mw::bench::run_quiet({"sha256sum", payload}); });
  double floor_unzip = median_seconds(
      repeats, [&] { mw::bench::run_quiet({"unzip", "-q", "-o", bundle, "-d", out}); }, fresh_out);
  emit("bundle", "floor_sha256sum_seconds", floor_hash, "s", params);
  emit("bundle", "floor_unzip_seconds", floor_unzip, "s", params);
  emit("bundle", "verify_unpack_vs_floor", verify / (floor_hash + floor_unzip), "ratio",
       {{"payload", label}, {"payload_bytes", size}, {"target_max", 1.5}});
  if (size >= (1 << 20))
    emit("bundle", "verify_unpack_throughput", static_cast<double>(size) / verify / 1e6, "MB/s",
         params);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Task bundles: pack+sign and verify+unpack of 1 KB, 1 MB and 100 MB payloads, "
               "against sha256sum + unzip of the same bundle", "bench_bundle"};
  bool quick = false;
  app.add_flag("--quick", quick, "1 KB and 1 MB only, fewer repeats");
  if (const int rc = mw::bench::parse_options(app, argc, argv); rc >= 0) return rc;
  bench_size(1000, "1KB", quick ? 5 : 21);
  bench_size(1000 * 1000, "1MB", quick ? 3 : 11);
  if (!quick) bench_size(100 * 1000 * 1000, "100MB", 3);
  return 0;
}
