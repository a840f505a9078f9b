// BOINC code-signing keys and signatures, checked with Debian's libboinc_crypt.
#include "mw/boinc/code_signing.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "boinc/crypto_oracle.h"
#include "mw/error.h"
#include "support/test_support.h"

namespace {

using mw::Errc;
using mw::boinc::CodeSignPrivateKey;
using mw::boinc::CodeSignPublicKey;
using mw::test::error_of;
using mw::test::read_text;
using mw::test::ScratchDir;
using mw::test::write_text;

// One key for the whole binary: RSA generation is the slow part.
const CodeSignPrivateKey& test_key() {
  static const CodeSignPrivateKey key = CodeSignPrivateKey::generate();
  return key;
}

struct KeyDir {
  ScratchDir dir;
  KeyDir() { mw::boinc::write_code_sign_keys(test_key(), dir / "keys"); }
  std::string priv() const { return dir / "keys/code_sign_private"; }
  std::string pub() const { return dir / "keys/code_sign_public"; }
};

TEST(CodeSigning, KeyFilesRoundTripThroughBoincsReader) {
  KeyDir k;
  auto priv = crypto_oracle::read_private_key(k.priv());
  ASSERT_EQ(priv.rc, 0);
  EXPECT_EQ(priv.text, read_text(k.priv()));
  auto pub = crypto_oracle::read_public_key(k.pub());
  ASSERT_EQ(pub.rc, 0);
  EXPECT_EQ(pub.text, read_text(k.pub()));
  // 1024 bits, 8 / 22 hex lines of 64 digits, then ".".
  EXPECT_EQ(read_text(k.pub()).size(), 5u + 8 * 65 + 2);
  EXPECT_EQ(read_text(k.priv()).size(), 5u + 22 * 65 + 2);
  struct stat st {};
  ASSERT_EQ(::stat(k.priv().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Our reader gives back the same text.
  EXPECT_EQ(CodeSignPrivateKey::load(k.priv()).to_text(), read_text(k.priv()));
  EXPECT_EQ(CodeSignPublicKey::load(k.pub()).to_text(), read_text(k.pub()));
}

TEST(CodeSigning, SignaturesAreByteIdenticalToBoincsSignFileAndVerifyWithBoinc) {
  KeyDir k;
  for (const std::string& content : {std::string(), std::string("hello\n"),
                                     std::string(100000, 'x') + "tail"}) {
    std::string file = k.dir / "app_file";
    write_text(file, content);
    std::string ours = test_key().sign_file(file);
    auto boinc = crypto_oracle::sign_file(file, k.priv());
    ASSERT_EQ(boinc.rc, 0);
    EXPECT_EQ(ours, boinc.text);
    EXPECT_EQ(ours.size(), 262u);
    std::string md5 = mw::boinc::file_md5_hex(file);
    auto check = crypto_oracle::check_file_signature(md5, k.pub(), ours);
    EXPECT_EQ(check.rc, 0);
    EXPECT_TRUE(check.ok);
    auto check2 = crypto_oracle::check_file_signature2(md5, ours, read_text(k.pub()));
    EXPECT_EQ(check2.rc, 0);
    EXPECT_TRUE(check2.ok);
    EXPECT_TRUE(test_key().public_key().verify_file(file, ours));
  }
}

TEST(CodeSigning, WrongFileOrKeyDoesNotVerify) {
  KeyDir k;
  std::string file = k.dir / "f";
  write_text(file, "original");
  std::string sig = test_key().sign_file(file);
  write_text(file, "tampered");
  std::string md5 = mw::boinc::file_md5_hex(file);
  EXPECT_FALSE(crypto_oracle::check_file_signature(md5, k.pub(), sig).ok);
  EXPECT_FALSE(test_key().public_key().verify_file(file, sig));

  auto other = CodeSignPrivateKey::generate();
  write_text(file, "original");
  std::string other_sig = other.sign_file(file);
  EXPECT_FALSE(test_key().public_key().verify_file(file, other_sig));
  EXPECT_FALSE(crypto_oracle::check_file_signature(mw::boinc::file_md5_hex(file), k.pub(),
                                                   other_sig).ok);
  EXPECT_FALSE(test_key().public_key().verify_md5(mw::boinc::file_md5_hex(file), "not hex\n.\n"));
}

TEST(CodeSigning, MalformedKeyFilesAreNamedWithTheProblem) {
  ScratchDir d;
  std::string good = test_key().public_key().to_text();
  std::string path = d / "code_sign_public";
  write_text(path, "abc\n" + good.substr(good.find('\n') + 1));
  auto msg = error_of([&] { CodeSignPublicKey::load(path); }, Errc::format);
  EXPECT_NE(msg.find(path), std::string::npos);
  EXPECT_NE(msg.find("line 1"), std::string::npos);

  write_text(path, good.substr(0, good.size() - 2));  // no "."
  msg = error_of([&] { CodeSignPublicKey::load(path); }, Errc::format);
  EXPECT_NE(msg.find("\".\""), std::string::npos);

  std::string bad = good;
  bad[10] = 'z';
  write_text(path, bad);
  msg = error_of([&] { CodeSignPublicKey::load(path); }, Errc::format);
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;

  // A private key file where a public one is expected: wrong length.
  write_text(path, test_key().to_text());
  msg = error_of([&] { CodeSignPublicKey::load(path); }, Errc::format);
  EXPECT_NE(msg.find("704"), std::string::npos) << msg;
}

TEST(CodeSigning, NeverReplacesExistingKeys) {
  KeyDir k;
  std::string before = read_text(k.pub());
  auto msg = error_of([&] { mw::boinc::write_code_sign_keys(CodeSignPrivateKey::generate(), k.dir / "keys"); },
                      Errc::usage);
  EXPECT_NE(msg.find("code_sign_private"), std::string::npos);
  EXPECT_EQ(read_text(k.pub()), before);
}

TEST(CodeSigning, MwSignBoincKeygenWritesKeysBoincReads) {
  ScratchDir d;
  auto r = mw::test::run_command({std::string(MW_TOOLS_DIR) + "/mw-sign", "boinc-keygen", "--out",
                                  d / "keys"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto priv = crypto_oracle::read_private_key(d / "keys/code_sign_private");
  ASSERT_EQ(priv.rc, 0);
  EXPECT_EQ(priv.text, read_text(d / "keys/code_sign_private"));
  std::string file = d / "f";
  write_text(file, "payload");
  auto sig = crypto_oracle::sign_file(file, d / "keys/code_sign_private");
  ASSERT_EQ(sig.rc, 0);
  EXPECT_TRUE(CodeSignPublicKey::load(d / "keys/code_sign_public").verify_file(file, sig.text));
  // A second run refuses to replace the pair.
  auto again = mw::test::run_command({std::string(MW_TOOLS_DIR) + "/mw-sign", "boinc-keygen",
                                      "--out", d / "keys"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("refusing"), std::string::npos) << again.err;
}

}  // namespace
