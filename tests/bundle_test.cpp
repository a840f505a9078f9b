// Task and result bundles: round trips in zip and directory form, and every
// way a hostile or damaged bundle is refused without writing outside the
// extraction directory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <fstream>
#include <list>
#include <map>

#include "mw/bundle.h"
#include "mw/error.h"
#include "mw/hash.h"
#include "support/raw_zip.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;

using test::error_of;

using test::RawZip;

class BundleTest : public ::testing::Test {
 protected:
  test::ScratchDir dir;
  PrivateKey key = PrivateKey::generate();
  std::vector<PublicKey> trusted{key.public_key()};

  TaskBuilder sample_task() {
    test::write_text(dir / "prog.sh", "#!/bin/sh\necho hi\n");
    TaskBuilder t("sample");
    t.bundled_program(dir / "prog.sh")
        .arg("--n")
        .arg("3")
        .file_bytes("in.txt", "input data\n")
        .file_bytes("table.csv", std::string(5000, 'z'), FileRole::data)
        .output("out.txt", 1000);
    return t;
  }

  // A signed task.xml + task.sig declaring one input file with `content`.
  std::pair<std::string, std::string> manifest_for(const std::string& name,
                                                   const std::string& content) {
    TaskManifest m;
    m.name = "crafted";
    m.program.host_path = "/bin/true";
    m.files.push_back({name, FileRole::input, content.size(), sha256_hex(content), false});
    std::string xml = task_to_xml(m);
    return {xml, key.sign(xml).to_text()};
  }

  // A result bundle at `path` with one output, o.txt = "result!"; returns its manifest.
  ResultManifest sample_result(const std::string& path) {
    mkdir((dir / "out").c_str(), 0700);
    test::write_text(dir / "out/o.txt", "result!");
    ResultManifest r;
    r.task_name = "sample";
    r.outputs.push_back({"o.txt", 7, sha256_hex("result!")});
    write_result_bundle(path, r, dir / "out");
    return r;
  }

  // Extraction must leave nothing outside `into` — and the scratch dir holds only it.
  void expect_nothing_escaped(const std::string& into) {
    auto all = test::list_tree(dir.path());
    for (const auto& p : all) {
      bool inside = p.rfind(into.substr(dir.path().size() + 1), 0) == 0;
      bool known = p == "prog.sh" || p == "b.zip" || p == "bad.zip" || inside;
      EXPECT_TRUE(known) << "unexpected file " << p;
    }
  }
};

TEST_F(BundleTest, ZipRoundTripVerifiesAndExtracts) {
  sample_task().write_bundle(dir / "b.zip", key);
  auto bundle = TaskBundle::open(dir / "b.zip");
  EXPECT_EQ(bundle.manifest().name, "sample");
  EXPECT_EQ(bundle.manifest().program.bundled_file, "prog.sh");
  EXPECT_EQ(bundle.manifest().args, (std::vector<std::string>{"--n", "3"}));
  EXPECT_EQ(bundle.manifest_sha256(), sha256_hex(bundle.manifest_bytes()));
  EXPECT_NO_THROW(bundle.verify_signature(trusted));
  EXPECT_NO_THROW(bundle.verify_files());
  mkdir((dir / "x").c_str(), 0700);
  bundle.extract_to(dir / "x");
  EXPECT_EQ(test::list_tree(dir / "x"), (std::vector<std::string>{"in.txt", "prog.sh", "table.csv"}));
  EXPECT_EQ(test::read_text(dir / "x/in.txt"), "input data\n");
  EXPECT_EQ(test::read_text(dir / "x/table.csv"), std::string(5000, 'z'));
  struct stat st;
  ASSERT_EQ(stat((dir / "x/prog.sh").c_str(), &st), 0);
  EXPECT_TRUE(st.st_mode & S_IXUSR) << "program must be executable after unpacking";
  ASSERT_EQ(stat((dir / "x/in.txt").c_str(), &st), 0);
  EXPECT_FALSE(st.st_mode & S_IXUSR);
}

// BOINC's remote staging builds bundles in memory: the same bytes as the
// file form (so content-hash names agree), signed, the program left out.
TEST_F(BundleTest, InMemoryBundleIsTheFileBundleByteForByte) {
  TaskBuilder t = sample_task();
  t.write_bundle_without_programs(dir / "b.zip", key);
  const std::string bytes = t.bundle_bytes_without_programs(key);
  EXPECT_EQ(bytes, test::read_text(dir / "b.zip"));
  test::write_text(dir / "bad.zip", bytes);
  auto bundle = TaskBundle::open(dir / "bad.zip", UnpackLimits{}, dir / "prog.sh");
  EXPECT_EQ(bundle.manifest().program.bundled_file, "prog.sh");
  EXPECT_NO_THROW(bundle.verify_signature(trusted));
  EXPECT_NO_THROW(bundle.verify_files());
  int code = 0;
  zip* z = zip_open((dir / "bad.zip").c_str(), ZIP_RDONLY, &code);
  ASSERT_NE(z, nullptr);
  EXPECT_LT(zip_name_locate(z, "prog.sh", 0), 0) << "the program travels as a file of its own";
  EXPECT_GE(zip_name_locate(z, "in.txt", 0), 0);
  zip_discard(z);
}

TEST_F(BundleTest, StandardUnzipReadsOurBundles) {
  sample_task().write_bundle(dir / "b.zip", key);
  auto r = test::run_command({"/usr/bin/unzip", "-t", dir / "b.zip"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("No errors detected"));
}

TEST_F(BundleTest, DirectoryFormRoundTrip) {
  sample_task().write_directory(dir / "d", key);
  auto bundle = TaskBundle::open(dir / "d");
  EXPECT_NO_THROW(bundle.verify_signature(trusted));
  EXPECT_NO_THROW(bundle.verify_files());
  mkdir((dir / "x").c_str(), 0700);
  bundle.extract_to(dir / "x");
  EXPECT_EQ(test::read_text(dir / "x/in.txt"), "input data\n");
  EXPECT_THAT(error_of([&] { sample_task().write_directory(dir / "d", key); }, Errc::usage),
              HasSubstr("already exists"));
}

TEST_F(BundleTest, SameTaskGivesSameManifestBytes) {
  sample_task().write_bundle(dir / "a.zip", key);
  sample_task().write_bundle(dir / "b.zip", key);
  EXPECT_EQ(TaskBundle::open(dir / "a.zip").manifest_bytes(),
            TaskBundle::open(dir / "b.zip").manifest_bytes());
}

TEST_F(BundleTest, UnsignedThenSigned) {
  sample_task().write_unsigned_bundle(dir / "b.zip");
  auto unsigned_bundle = TaskBundle::open(dir / "b.zip");
  EXPECT_THAT(error_of([&] { unsigned_bundle.verify_signature(trusted); }, Errc::signature),
              HasSubstr("not signed"));
  sign_bundle(dir / "b.zip", key);
  EXPECT_NO_THROW(TaskBundle::open(dir / "b.zip").verify_signature(trusted));
  // Re-signing with another key replaces the signature.
  auto other = PrivateKey::generate();
  sign_bundle(dir / "b.zip", other);
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "b.zip").verify_signature(trusted); },
                       Errc::signature),
              HasSubstr("not among"));
  EXPECT_NO_THROW(TaskBundle::open(dir / "b.zip").verify_signature({other.public_key()}));
}

TEST_F(BundleTest, FlippingAnySingleByteOfASignedBundleFailsVerification) {
  TaskBuilder t("flip");
  t.host_program("/bin/true").file_bytes("in.txt", "some input\n").output("o", 10);
  t.write_bundle(dir / "b.zip", key);
  const std::string original = test::read_text(dir / "b.zip");
  ASSERT_GT(original.size(), 100u);
  int undetected = 0;
  for (std::size_t i = 0; i < original.size(); ++i) {
    std::string flipped = original;
    flipped[i] = static_cast<char>(flipped[i] ^ 0xff);
    test::write_text(dir / "bad.zip", flipped);
    try {
      auto b = TaskBundle::open(dir / "bad.zip");
      b.verify_signature(trusted);
      b.verify_files();
      ++undetected;
      ADD_FAILURE() << "flipping byte " << i << " of " << original.size() << " went unnoticed";
    } catch (const Error&) {
    }
    if (undetected > 5) break;
  }
}

// Issue 20: zip64 markers switch the header-agreement checks off (they are
// left to libzip for archives past 4 GiB), so a small archive may not carry
// them. The same signed members, re-zipped by Info-ZIP with zip64 forced (-fz),
// were accepted without those checks before.
TEST_F(BundleTest, Zip64WhereItIsNotNeededIsRefused) {
  TaskBuilder t("z64");
  t.host_program("/bin/true").file_bytes("in.txt", "some input\n").output("o", 10);
  t.write_bundle(dir / "b.zip", key);
  ASSERT_EQ(mkdir((dir / "m").c_str(), 0700), 0);
  auto unzipped = test::run_command({"/usr/bin/unzip", "-q", dir / "b.zip", "-d", dir / "m"});
  ASSERT_EQ(unzipped.exit_code, 0) << unzipped.err;
  auto zipped = test::run_command({"/usr/bin/zip", "-q", "-X", "-j", "-fz", dir / "bad.zip", dir / "m/task.xml",
                                   dir / "m/task.sig", dir / "m/in.txt"});
  ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::unsafe_bundle),
              HasSubstr("uses zip64, which an archive of"));
  // The members themselves are fine: without zip64 the same files open.
  ASSERT_EQ(::unlink((dir / "bad.zip").c_str()), 0);
  zipped = test::run_command({"/usr/bin/zip", "-q", "-X", "-j", dir / "bad.zip", dir / "m/task.xml",
                              dir / "m/task.sig", dir / "m/in.txt"});
  ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
  auto b = TaskBundle::open(dir / "bad.zip");
  EXPECT_NO_THROW(b.verify_signature(trusted));
}

// The offset of the `n`-th local header (from 0) of a zip in `bytes`.
std::size_t nth_local_header(const std::string& bytes, int n) {
  std::size_t at = 0;
  for (int i = 0; i <= n; ++i) {
    at = bytes.find(std::string("PK\x03\x04", 4), i ? at + 4 : 0);
    if (at == std::string::npos) throw std::runtime_error("no local header #" + std::to_string(n));
  }
  return at;
}

// Archives that need zip64 (here: 65,536 members) are held to the same
// header rules: a changed flag in one local header is refused, where the
// checks used to be switched off for any zip64 archive. Unchanged, the
// archive passes them and fails only for being no bundle (no task.xml).
TEST_F(BundleTest, Zip64ArchivesKeepTheHeaderChecks) {
  UnpackLimits wide;
  wide.max_members = 70000;
  auto check = [&](const std::string& zip) {
    EXPECT_THAT(error_of([&] { TaskBundle::open(zip, wide); }, Errc::format), HasSubstr("no task.xml"));
    std::string bytes = test::read_text(zip);
    bytes[nth_local_header(bytes, 1000) + 6] ^= 0x02;  // general-purpose flags
    test::write_text(zip, bytes);
    EXPECT_THAT(error_of([&] { TaskBundle::open(zip, wide); }, Errc::unsafe_bundle),
                HasSubstr("local header #1001 disagrees with its central directory entry"));
  };
  {
    SCOPED_TRACE("libzip: a zip64 end record");
    RawZip z(dir / "count.zip");
    for (int i = 0; i < 65536; ++i) z.add("m" + std::to_string(i), "x", S_IFREG | 0644, false);
    z.close();
    check(dir / "count.zip");
  }
  {
    SCOPED_TRACE("Info-ZIP -fz: zip64 fields in every header too");
    ASSERT_EQ(mkdir((dir / "many").c_str(), 0700), 0);
    for (int i = 0; i < 65536; ++i) test::write_text(dir / ("many/f" + std::to_string(i)), "y");
    auto zipped = test::run_command({"/usr/bin/zip", "-q", "-X", "-j", "-r", "-fz", dir / "fz.zip", dir / "many"});
    ASSERT_EQ(zipped.exit_code, 0) << zipped.err;
    check(dir / "fz.zip");
  }
}

TEST_F(BundleTest, TamperedFileContentIsAnIntegrityError) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip(dir / "bad.zip").add("task.xml", xml).add("task.sig", sig).add("in.txt", "AAAB").close();
  auto b = TaskBundle::open(dir / "bad.zip");
  EXPECT_NO_THROW(b.verify_signature(trusted));  // the manifest itself is intact
  EXPECT_THAT(error_of([&] { b.verify_files(); }, Errc::integrity), HasSubstr("'in.txt'"));
  mkdir((dir / "x").c_str(), 0700);
  EXPECT_THAT(error_of([&] { b.extract_to(dir / "x"); }, Errc::integrity), HasSubstr("SHA-256"));
  EXPECT_TRUE(test::list_tree(dir / "x").empty()) << "the partial file must be removed";
}

// Issue 20: a signature certifies the files through their hashes, so
// sign_bundle (and mw-sign sign) refuses a bundle whose files do not match.
TEST_F(BundleTest, SigningABundleWhoseFilesDoNotMatchIsRefused) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip(dir / "bad.zip").add("task.xml", xml).add("in.txt", "AAAB").close();
  const std::string before = test::read_text(dir / "bad.zip");
  EXPECT_THAT(error_of([&] { sign_bundle(dir / "bad.zip", key); }, Errc::integrity),
              HasSubstr("'in.txt'"));
  EXPECT_EQ(test::read_text(dir / "bad.zip"), before) << "the bundle was changed";
}

// Bytes that do not compress: deflate falls back to stored blocks.
std::string random_bytes(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

// Members the caller hashes are read without libzip's CRC-32 (and inflated by
// the reader itself): deflated and stored, large ones must come out byte for byte.
TEST_F(BundleTest, LargeDeflatedAndStoredMembersRoundTrip) {
  const std::string deflated = random_bytes(6 << 20, 1) + std::string(1 << 20, 'a');
  const std::string stored = random_bytes((5 << 20) + 123, 2);
  TaskManifest m;
  m.name = "large";
  m.program.host_path = "/bin/true";
  m.files.push_back({"big.bin", FileRole::input, deflated.size(), sha256_hex(deflated), false});
  m.files.push_back({"raw.bin", FileRole::input, stored.size(), sha256_hex(stored), false});
  const std::string xml = task_to_xml(m);
  RawZip(dir / "b.zip")
      .add("task.xml", xml)
      .add("task.sig", key.sign(xml).to_text())
      .add("big.bin", deflated)
      .add("raw.bin", stored, S_IFREG | 0644, false)
      .close();
  auto b = TaskBundle::open(dir / "b.zip");
  EXPECT_NO_THROW(b.verify_files());
  mkdir((dir / "x").c_str(), 0700);
  b.extract_to(dir / "x");
  EXPECT_TRUE(test::read_text(dir / "x/big.bin") == deflated);
  EXPECT_TRUE(test::read_text(dir / "x/raw.bin") == stored);
}

// Without the zip checksum, a damaged byte of a large member is still caught,
// by the SHA-256 (stored) or by inflate or the SHA-256 (deflated).
TEST_F(BundleTest, DamagedLargeMemberIsAnIntegrityError) {
  for (bool compress : {false, true}) {
    SCOPED_TRACE(compress ? "deflated" : "stored");
    const std::string content = random_bytes(5 << 20, 3);
    auto [xml, sig] = manifest_for("in.bin", content);
    RawZip(dir / "bad.zip")
        .add("task.xml", xml)
        .add("task.sig", sig)
        .add("in.bin", content, S_IFREG | 0644, compress)
        .close();
    std::string zip = test::read_text(dir / "bad.zip");
    const std::size_t at = zip.find(content.substr(3 << 20, 64));
    ASSERT_NE(at, std::string::npos);
    zip[at + 10] = static_cast<char>(zip[at + 10] ^ 0x01);
    test::write_text(dir / "bad.zip", zip);
    auto b = TaskBundle::open(dir / "bad.zip");
    EXPECT_NO_THROW(b.verify_signature(trusted));
    EXPECT_THAT(error_of([&] { b.verify_files(); }, Errc::integrity), HasSubstr("'in.bin'"));
    const std::string into = dir / (compress ? "deflated" : "stored");
    mkdir(into.c_str(), 0700);
    EXPECT_THAT(error_of([&] { b.extract_to(into); }, Errc::integrity), HasSubstr("in.bin"));
    EXPECT_TRUE(test::list_tree(into).empty()) << "the partial file must be removed";
  }
}

// Archives up to 256 KiB are read into memory once, larger ones through the
// file: both must accept the same bundles and refuse the same damage alike.
TEST_F(BundleTest, SmallArchivesReadInMemoryAreCheckedLikeLargeOnes) {
  std::map<std::string, std::string> refusals[2];
  for (int large = 0; large < 2; ++large) {
    SCOPED_TRACE(large ? "large (read through the file)" : "small (read in memory)");
    const std::string content = random_bytes(large ? (3 << 19) : 3000, 7);
    auto [xml, sig] = manifest_for("in.bin", content);
    const std::string path = dir / (large ? "large.zip" : "small.zip");
    RawZip(path).add("task.xml", xml).add("task.sig", sig).add("in.bin", content, S_IFREG | 0644, false).close();
    const std::string good = test::read_text(path);
    ASSERT_EQ(good.size() > (256u << 10), large == 1);
    {
      auto b = TaskBundle::open(path);
      EXPECT_NO_THROW(b.verify_signature(trusted));
      EXPECT_NO_THROW(b.verify_files());
      const std::string into = dir / (large ? "out_large" : "out_small");
      mkdir(into.c_str(), 0700);
      b.extract_to(into);
      EXPECT_TRUE(test::read_text(into + "/in.bin") == content);
    }
    auto refusal = [&](const std::string& bytes, Errc code) {
      test::write_text(path, bytes);
      std::string what = error_of(
          [&] {
            auto b = TaskBundle::open(path);
            b.verify_files();
          },
          code);
      return what.substr(what.find(".zip") + 4);  // without the file name
    };
    refusals[large]["trailing byte"] = refusal(good + "x", Errc::unsafe_bundle);
    std::string flags = good;
    flags[6] = static_cast<char>(flags[6] ^ 0x02);  // first local header's general-purpose flags
    refusals[large]["local header"] = refusal(flags, Errc::unsafe_bundle);
    std::string damaged = good;
    damaged[damaged.find(content.substr(1000, 64)) + 5] ^= 0x01;
    refusals[large]["member byte"] = refusal(damaged, Errc::integrity);
    refusals[large]["truncated"] = refusal(good.substr(0, good.size() - 30), Errc::unsafe_bundle);
  }
  EXPECT_EQ(refusals[0], refusals[1]);
  EXPECT_THAT(refusals[0]["trailing byte"], HasSubstr("zip archive"));
  EXPECT_THAT(refusals[0]["member byte"], HasSubstr("in.bin"));
}

// Deflate only where it pays: random bytes are stored, text is deflated.
TEST_F(BundleTest, WriterStoresWhatDeflateCannotShrink) {
  test::write_text(dir / "random.bin", random_bytes(200000, 4));
  TaskBuilder t("mixed");
  t.host_program("/bin/true")
      .file(dir / "random.bin")
      .file_bytes("text.txt", std::string(200000, 'x'))
      .file_bytes("small_random.bin", random_bytes(1000, 5));
  t.write_bundle(dir / "b.zip", key);
  int err = 0;
  zip_t* z = zip_open((dir / "b.zip").c_str(), ZIP_RDONLY, &err);
  ASSERT_NE(z, nullptr);
  auto method_of = [&](const char* name) {
    zip_stat_t st;
    zip_stat_init(&st);
    EXPECT_EQ(zip_stat(z, name, 0, &st), 0) << name;
    return st.comp_method;
  };
  EXPECT_EQ(method_of("random.bin"), ZIP_CM_STORE);
  EXPECT_EQ(method_of("text.txt"), ZIP_CM_DEFLATE);
  EXPECT_EQ(method_of("small_random.bin"), ZIP_CM_STORE) << "too small to pay for deflate's set-up: stored";
  EXPECT_EQ(method_of("task.xml"), ZIP_CM_STORE) << "a small manifest too";
  zip_discard(z);
  auto b = TaskBundle::open(dir / "b.zip");
  mkdir((dir / "x").c_str(), 0700);
  b.extract_to(dir / "x");
  EXPECT_TRUE(test::read_text(dir / "x/random.bin") == test::read_text(dir / "random.bin"));
}

TEST_F(BundleTest, SizeMismatchIsRefusedAtOpen) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip(dir / "bad.zip").add("task.xml", xml).add("task.sig", sig).add("in.txt", "AAAAA").close();
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::integrity),
              HasSubstr("'in.txt' is 5 bytes, task.xml says 4"));
}

TEST_F(BundleTest, DeclaredFileMissing) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip(dir / "bad.zip").add("task.xml", xml).add("task.sig", sig).close();
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::integrity),
              HasSubstr("'in.txt' is declared in task.xml but missing"));
}

TEST_F(BundleTest, UndeclaredMemberIsRefused) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip(dir / "bad.zip")
      .add("task.xml", xml)
      .add("task.sig", sig)
      .add("in.txt", "AAAA")
      .add("extra.bin", "sneaky")
      .close();
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::unsafe_bundle),
              HasSubstr("'extra.bin' is not declared"));
}

TEST_F(BundleTest, NoManifest) {
  RawZip(dir / "bad.zip").add("in.txt", "AAAA").close();
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::format),
              HasSubstr("no task.xml"));
}

TEST_F(BundleTest, NotAZip) {
  test::write_text(dir / "bad.zip", "this is not a zip archive at all");
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip"); }, Errc::unsafe_bundle),
              HasSubstr("not a valid zip archive"));
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "missing.zip"); }, Errc::io),
              HasSubstr("missing.zip"));
}

struct HostileMember {
  const char* label;
  std::string name;
  mode_t mode;
  const char* message;
};

class HostileBundleTest : public BundleTest,
                          public ::testing::WithParamInterface<HostileMember> {};

TEST_P(HostileBundleTest, IsRefusedAndNothingIsWritten) {
  const auto& p = GetParam();
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  // libzip will not write two members of one name, so a duplicate is made by
  // renaming a member in the raw bytes (local and central header alike).
  const bool duplicate = p.name == "in.txt";
  RawZip(dir / "bad.zip")
      .add("task.xml", xml)
      .add("task.sig", sig)
      .add("in.txt", "AAAA")
      .add(duplicate ? "in.tx_" : p.name, "AAAA", p.mode)
      .close();
  if (duplicate) {
    std::string bytes = test::read_text(dir / "bad.zip");
    for (auto at = bytes.find("in.tx_"); at != std::string::npos; at = bytes.find("in.tx_"))
      bytes[at + 5] = 't';
    test::write_text(dir / "bad.zip", bytes);
  }
  mkdir((dir / "x").c_str(), 0700);
  std::string msg = error_of(
      [&] {
        auto b = TaskBundle::open(dir / "bad.zip");
        b.extract_to(dir / "x");
      },
      Errc::unsafe_bundle);
  EXPECT_THAT(msg, HasSubstr(p.message));
  EXPECT_TRUE(test::list_tree(dir / "x").empty());
  expect_nothing_escaped(dir / "x");
  struct stat st;
  EXPECT_NE(lstat("/tmp/evil", &st), 0);
  EXPECT_NE(lstat((dir.path() + "/../evil").c_str(), &st), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Members, HostileBundleTest,
    ::testing::Values(
        HostileMember{"zip_slip", "../evil", S_IFREG | 0644, "has a path"},
        HostileMember{"deep_slip", "a/../../evil", S_IFREG | 0644, "has a path"},
        HostileMember{"absolute", "/tmp/evil", S_IFREG | 0644, "has a path"},
        HostileMember{"subdir", "sub/file", S_IFREG | 0644, "has a path"},
        HostileMember{"backslash", "..\\evil", S_IFREG | 0644, "has a path"},
        HostileMember{"dotfile", ".hidden", S_IFREG | 0644, "not an allowed member name"},
        HostileMember{"symlink", "link", S_IFLNK | 0777, "symbolic link"},
        HostileMember{"chardev", "dev", S_IFCHR | 0644, "not a regular file"},
        HostileMember{"fifo", "pipe", S_IFIFO | 0644, "not a regular file"},
        HostileMember{"duplicate", "in.txt", S_IFREG | 0644, "same name"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST_F(BundleTest, TooManyMembers) {
  auto [xml, sig] = manifest_for("in.txt", "AAAA");
  RawZip z(dir / "bad.zip");
  z.add("task.xml", xml).add("task.sig", sig).add("in.txt", "AAAA");
  for (int i = 0; i < 20; ++i) z.add("f" + std::to_string(i), "x");
  z.close();
  UnpackLimits limits;
  limits.max_members = 10;
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip", limits); }, Errc::unsafe_bundle),
              HasSubstr("23 members, more than the limit of 10"));
}

TEST_F(BundleTest, TooManyBytes) {
  std::string big(300000, 'q');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  auto [xml, sig] = manifest_for("in.txt", big);
  RawZip(dir / "bad.zip").add("task.xml", xml).add("task.sig", sig).add("in.txt", big).close();
  UnpackLimits limits;
  limits.max_total_bytes = 100000;
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "bad.zip", limits); }, Errc::unsafe_bundle),
              HasSubstr("more than the limit of 100000 bytes"));
}

TEST_F(BundleTest, CompressionBombIsRefusedBeforeInflating) {
  std::string zeros(50 << 20, '\0');  // 50 MiB of zeros deflates about 1000-fold
  auto [xml, sig] = manifest_for("in.txt", zeros);
  RawZip(dir / "bad.zip").add("task.xml", xml).add("task.sig", sig).add("in.txt", zeros).close();
  zeros.clear();
  struct stat st;
  ASSERT_EQ(stat((dir / "bad.zip").c_str(), &st), 0);
  ASSERT_LT(st.st_size, 200000);
  mkdir((dir / "x").c_str(), 0700);
  EXPECT_THAT(error_of(
                  [&] {
                    auto b = TaskBundle::open(dir / "bad.zip");
                    b.extract_to(dir / "x");
                  },
                  Errc::unsafe_bundle),
              HasSubstr("inflates"));
  EXPECT_TRUE(test::list_tree(dir / "x").empty());
}

TEST_F(BundleTest, DirectoryBundleWithSymlinkIsRefused) {
  sample_task().write_directory(dir / "d", key);
  ASSERT_EQ(symlink("/etc/passwd", (dir / "d/in.txt.lnk").c_str()), 0);
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "d"); }, Errc::unsafe_bundle),
              HasSubstr("symbolic link"));
}

TEST_F(BundleTest, DirectoryBundleWhoseFileIsReplacedByALinkIsRefused) {
  sample_task().write_directory(dir / "d", key);
  ASSERT_EQ(unlink((dir / "d/in.txt").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (dir / "d/in.txt").c_str()), 0);
  EXPECT_THAT(error_of([&] { TaskBundle::open(dir / "d"); }, Errc::unsafe_bundle),
              HasSubstr("symbolic link"));
}

TEST_F(BundleTest, BuilderRejectsBadNamesAndDuplicates) {
  TaskBuilder t("t");
  EXPECT_THAT(error_of([&] { t.file_bytes("../x", "a"); }, Errc::usage), HasSubstr("'../x'"));
  EXPECT_THAT(error_of([&] { t.file_bytes("task.xml", "a"); }, Errc::usage),
              HasSubstr("not a valid file name"));
  t.file_bytes("a", "1");
  EXPECT_THAT(error_of([&] { t.file_bytes("a", "2"); }, Errc::usage), HasSubstr("added twice"));
  EXPECT_THAT(error_of([&] { t.file(dir / "missing"); }, Errc::io), HasSubstr("missing"));
}

TEST_F(BundleTest, FailedWriteLeavesNoFile) {
  TaskBuilder t("t");  // no program: invalid
  EXPECT_THROW(t.write_bundle(dir / "b.zip", key), Error);
  EXPECT_TRUE(test::list_tree(dir.path()).empty()) << "no temp files left behind";
}

TEST_F(BundleTest, ResultBundleRoundTripAndTamper) {
  const ResultManifest r = sample_result(dir / "r.zip");
  auto rb = ResultBundle::open(dir / "r.zip");
  EXPECT_EQ(rb.manifest().task_name, "sample");
  EXPECT_EQ(rb.read_output("o.txt"), "result!");
  EXPECT_THAT(error_of([&] { rb.read_output("nope"); }, Errc::usage), HasSubstr("'nope'"));

  // A result whose output was swapped after the fact.
  ResultManifest lie = r;
  lie.outputs[0].sha256 = sha256_hex("other!!");
  std::string xml = result_to_xml(lie);
  RawZip(dir / "bad.zip").add("result.xml", xml).add("o.txt", "result!").close();
  auto bad = ResultBundle::open(dir / "bad.zip");
  EXPECT_THAT(error_of([&] { bad.read_output("o.txt"); }, Errc::integrity), HasSubstr("o.txt"));
  EXPECT_THAT(error_of([&] { write_result_bundle(dir / "r2.zip", lie, dir / "missing"); }, Errc::usage),
              HasSubstr("'o.txt'"));
}

// write_output (mw-task extract): checked while written, all or nothing, and
// an existing file is replaced only when asked.
TEST_F(BundleTest, ResultOutputIsWrittenCheckedAndReplacedOnlyWhenAsked) {
  const ResultManifest r = sample_result(dir / "r.zip");
  const auto rb = ResultBundle::open(dir / "r.zip");
  mkdir((dir / "to").c_str(), 0700);
  rb.write_output("o.txt", dir / "to/o.txt", /*replace=*/false);
  EXPECT_EQ(test::read_text(dir / "to/o.txt"), "result!");

  test::write_text(dir / "to/o.txt", "mine");
  EXPECT_THAT(error_of([&] { rb.write_output("o.txt", dir / "to/o.txt", false); }, Errc::usage),
              HasSubstr("exists"));
  EXPECT_EQ(test::read_text(dir / "to/o.txt"), "mine");
  rb.write_output("o.txt", dir / "to/o.txt", /*replace=*/true);
  EXPECT_EQ(test::read_text(dir / "to/o.txt"), "result!");
  EXPECT_THAT(error_of([&] { rb.write_output("nope", dir / "to/nope", false); }, Errc::usage), HasSubstr("'nope'"));

  ResultManifest lie = r;
  lie.outputs[0].sha256 = sha256_hex("other!!");
  RawZip(dir / "bad.zip").add("result.xml", result_to_xml(lie)).add("o.txt", "result!").close();
  const auto bad = ResultBundle::open(dir / "bad.zip");
  EXPECT_THAT(error_of([&] { bad.write_output("o.txt", dir / "to/new.txt", true); }, Errc::integrity),
              HasSubstr("o.txt"));
  EXPECT_EQ(test::list_tree(dir / "to"), std::vector<std::string>{"o.txt"}) << "no temp file, no partial file";
}

}  // namespace
}  // namespace mw
