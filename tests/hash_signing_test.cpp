// SHA-256 against known vectors, and Ed25519 task signing: round trips, key
// files, the signature line format, and that any change breaks verification.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "mw/error.h"
#include "mw/hash.h"
#include "mw/signing.h"
#include "support/test_support.h"

namespace mw {
namespace {

using ::testing::HasSubstr;

using test::error_of;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data(100000, 'q');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  Sha256 h;
  for (std::size_t i = 0; i < data.size(); i += 977) h.update(data.substr(i, 977));
  EXPECT_EQ(h.finish_hex(), sha256_hex(data));
}

TEST(Sha256, FileMatchesMemoryAndMissingFileNamesPath) {
  test::ScratchDir dir;
  test::write_text(dir / "f", "hello\n");
  EXPECT_EQ(sha256_file_hex(dir / "f"), sha256_hex("hello\n"));
  auto msg = error_of([&] { sha256_file_hex(dir / "missing"); }, Errc::io);
  EXPECT_THAT(msg, HasSubstr(dir / "missing"));
}

TEST(Sha256, HexCheck) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

TEST(Signing, SignVerifyRoundTrip) {
  auto key = PrivateKey::generate();
  auto pub = key.public_key();
  auto sig = key.sign("the exact bytes");
  EXPECT_EQ(sig.key_id, pub.key_id());
  EXPECT_TRUE(pub.verify("the exact bytes", sig));
  EXPECT_FALSE(pub.verify("the exact bytes ", sig));
  EXPECT_FALSE(PrivateKey::generate().public_key().verify("the exact bytes", sig));
}

TEST(Signing, EverySingleByteFlipBreaksVerification) {
  auto key = PrivateKey::generate();
  std::string message = "<mw_task format_version=\"1\"><name>t</name></mw_task>";
  auto sig = key.sign(message);
  for (std::size_t i = 0; i < message.size(); ++i) {
    std::string changed = message;
    changed[i] ^= 0x01;
    EXPECT_FALSE(key.public_key().verify(changed, sig)) << "byte " << i;
  }
  for (std::size_t i = 0; i < sig.bytes.size(); ++i) {
    Signature bad = sig;
    bad.bytes[i] ^= 0x80;
    EXPECT_FALSE(key.public_key().verify(message, bad)) << "signature byte " << i;
  }
}

TEST(Signing, PemRoundTripKeepsKeyId) {
  auto key = PrivateKey::generate();
  auto again = PrivateKey::from_pem(key.to_pem());
  EXPECT_EQ(again.public_key().key_id(), key.public_key().key_id());
  auto pub = PublicKey::from_pem(key.public_key().to_pem());
  EXPECT_EQ(pub.key_id(), key.public_key().key_id());
  EXPECT_TRUE(pub.verify("m", again.sign("m")));
}

TEST(Signing, SignatureTextRoundTripAndStrictParse) {
  auto sig = PrivateKey::generate().sign("m");
  std::string text = sig.to_text();
  EXPECT_THAT(text, ::testing::StartsWith("mw-ed25519 " + sig.key_id + " "));
  EXPECT_EQ(text.back(), '\n');
  auto parsed = Signature::parse(text);
  EXPECT_EQ(parsed.key_id, sig.key_id);
  EXPECT_EQ(parsed.bytes, sig.bytes);

  EXPECT_THAT(error_of([&] { Signature::parse("rsa " + text.substr(11)); }, Errc::signature),
              HasSubstr("unknown signature algorithm 'rsa'"));
  EXPECT_THAT(error_of([&] { Signature::parse("mw-ed25519 abc " + std::string(128, 'a')); },
                       Errc::signature),
              HasSubstr("key id"));
  EXPECT_THAT(error_of([&] { Signature::parse(text.substr(0, text.size() - 3)); }, Errc::signature),
              HasSubstr("128 lowercase hex"));
  EXPECT_THAT(error_of([&] { Signature::parse(text + text); }, Errc::signature),
              HasSubstr("one line"));
  EXPECT_THAT(error_of([&] { Signature::parse("", "bundle.zip:task.sig"); }, Errc::signature),
              HasSubstr("bundle.zip:task.sig"));
}

TEST(Signing, NonEd25519AndGarbageKeysAreRefused) {
  test::ScratchDir dir;
  test::write_text(dir / "junk.pem", "not a key");
  EXPECT_THAT(error_of([&] { PublicKey::load_pem(dir / "junk.pem"); }, Errc::signature),
              HasSubstr(dir / "junk.pem"));
  // An RSA key made by openssl itself.
  auto r = test::run_command({"/usr/bin/openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                              "rsa_keygen_bits:1024", "-out", dir / "rsa.pem"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(error_of([&] { PrivateKey::load_pem(dir / "rsa.pem"); }, Errc::signature),
              HasSubstr("not an Ed25519 key"));
}

// A key of the other kind is named as such, not as OpenSSL's "DECODER
// routines::unsupported" (issue 21): the label says what the file holds.
TEST(Signing, AKeyOfTheOtherKindIsNamedAsSuch) {
  const auto key = PrivateKey::generate();
  const std::string priv = error_of([&] { PublicKey::from_pem(key.to_pem(), "k.pem"); }, Errc::signature);
  EXPECT_EQ(priv, "k.pem: this is a private key; a public key is needed here");
  const std::string pub =
      error_of([&] { PrivateKey::from_pem(key.public_key().to_pem(), "p.pem"); }, Errc::signature);
  EXPECT_EQ(pub, "p.pem: this is a public key; the private key is needed here");
}

TEST(Signing, OpensslReadsOurKeysAndAgreesOnThePublicKey) {
  test::ScratchDir dir;
  auto key = PrivateKey::generate();
  write_key_pair(key, dir / "keys");
  auto r = test::run_command({"/usr/bin/openssl", "pkey", "-in", dir / "keys/task_sign_private.pem",
                              "-pubout"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, test::read_text(dir / "keys/task_sign_public.pem"));
}

TEST(Signing, KeyPairFilesModesAndNoOverwrite) {
  test::ScratchDir dir;
  auto key = PrivateKey::generate();
  write_key_pair(key, dir / "keys");
  struct stat st;
  ASSERT_EQ(stat((dir / "keys/task_sign_private.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir / "keys/task_sign_public.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  std::string before = test::read_text(dir / "keys/task_sign_private.pem");
  auto msg = error_of([&] { write_key_pair(PrivateKey::generate(), dir / "keys"); }, Errc::usage);
  EXPECT_THAT(msg, HasSubstr("refusing to overwrite"));
  EXPECT_EQ(test::read_text(dir / "keys/task_sign_private.pem"), before);
  EXPECT_EQ(PrivateKey::load_pem(dir / "keys/task_sign_private.pem").public_key().key_id(),
            key.public_key().key_id());
}

TEST(Signing, VerifyWithAnyPicksKeyById) {
  auto a = PrivateKey::generate(), b = PrivateKey::generate(), c = PrivateKey::generate();
  std::vector<PublicKey> trusted{a.public_key(), b.public_key()};
  EXPECT_NO_THROW(verify_with_any(trusted, "m", b.sign("m")));
  EXPECT_THAT(error_of([&] { verify_with_any(trusted, "m", c.sign("m")); }, Errc::signature),
              HasSubstr("not among the 2 trusted key(s)"));
  EXPECT_THAT(error_of([&] { verify_with_any(trusted, "m2", a.sign("m")); }, Errc::signature),
              HasSubstr("does not match the content"));
}

}  // namespace
}  // namespace mw
