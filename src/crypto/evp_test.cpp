#include "crypto/evp.hpp"

#include <gtest/gtest.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>

#include "core/base64.hpp"

namespace natstack::crypto {
namespace {

EvpPkeyPtr PublicOnly(const EVP_PKEY* key) {
  auto pem = PublicKeyPem(key);
  EXPECT_TRUE(pem.has_value());
  auto pub = LoadPublicKeyPem(*pem);
  EXPECT_TRUE(pub.has_value());
  return std::move(*pub);
}

// One RSA key for the whole file: generation is the slow part.
const EVP_PKEY* SharedRsaKey() {
  static EvpPkeyPtr key = [] {
    auto k = GenerateRsaPkey(2048);
    EXPECT_TRUE(k.has_value());
    return std::move(*k);
  }();
  return key.get();
}

TEST(EvpTest, RsaPkcs1SignVerify) {
  const EVP_PKEY* key = SharedRsaKey();
  EXPECT_EQ(KeyTypeOf(key), KeyType::kRsa);
  EXPECT_TRUE(HasPrivateKey(key));
  for (Digest d : {Digest::kSha256, Digest::kSha384, Digest::kSha512}) {
    auto sig = SignMessage(key, d, "hello", Padding::kPkcs1);
    ASSERT_TRUE(sig.has_value()) << sig.error().ToString();
    EXPECT_EQ(sig->size(), 256u);
    auto pub = PublicOnly(key);
    EXPECT_FALSE(HasPrivateKey(pub.get()));
    EXPECT_TRUE(VerifySignature(pub.get(), d, "hello", *sig, Padding::kPkcs1).has_value());
    auto bad = VerifySignature(pub.get(), d, "hellp", *sig, Padding::kPkcs1);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, Code::kUnauthenticated);
    // The same bytes under PSS do not verify.
    EXPECT_FALSE(VerifySignature(pub.get(), d, "hello", *sig, Padding::kPss).has_value());
  }
  auto rs256 = SignRs256(key, "data");
  ASSERT_TRUE(rs256.has_value());
  EXPECT_TRUE(VerifySignature(key, Digest::kSha256, "data", *rs256).has_value());
}

TEST(EvpTest, RsaPssSignVerify) {
  const EVP_PKEY* key = SharedRsaKey();
  auto sig = SignMessage(key, Digest::kSha256, "msg", Padding::kPss);
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(VerifySignature(key, Digest::kSha256, "msg", *sig, Padding::kPss).has_value());
  EXPECT_FALSE(VerifySignature(key, Digest::kSha256, "msg", *sig, Padding::kPkcs1).has_value());
  EXPECT_FALSE(VerifySignature(key, Digest::kSha384, "msg", *sig, Padding::kPss).has_value());
}

TEST(EvpTest, EcdsaSignVerifyAndRawConversion) {
  for (KeyType curve : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kEcP521}) {
    auto key = GenerateEcPkey(curve);
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(KeyTypeOf(key->get()), curve);
    const Digest d = curve == KeyType::kEcP256   ? Digest::kSha256
                     : curve == KeyType::kEcP384 ? Digest::kSha384
                                                 : Digest::kSha512;
    auto der = SignMessage(key->get(), d, "payload");
    ASSERT_TRUE(der.has_value());
    const size_t size = EcCoordinateSize(curve);
    auto raw = EcdsaDerToRaw(*der, size);
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->size(), 2 * size);
    auto der2 = EcdsaRawToDer(*raw, size);
    ASSERT_TRUE(der2.has_value());
    auto pub = PublicOnly(key->get());
    EXPECT_TRUE(VerifySignature(pub.get(), d, "payload", *der2).has_value());
    EXPECT_FALSE(VerifySignature(pub.get(), d, "payloae", *der2).has_value());
    // Raw r||s handed over without conversion is a refusal, not a crash.
    EXPECT_FALSE(VerifySignature(pub.get(), d, "payload", *raw).has_value());
    EXPECT_FALSE(EcdsaRawToDer(raw->substr(1), size).has_value());
  }
}

TEST(EvpTest, Ed25519SignVerify) {
  auto key = GenerateEd25519Pkey();
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(KeyTypeOf(key->get()), KeyType::kEd25519);
  auto sig = SignMessage(key->get(), Digest::kNone, "abc");
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->size(), 64u);
  auto raw = Ed25519RawPublicKey(key->get());
  ASSERT_TRUE(raw.has_value());
  auto pub = Ed25519PublicKeyFromRaw(*raw);
  ASSERT_TRUE(pub.has_value());
  EXPECT_TRUE(VerifySignature(pub->get(), Digest::kNone, "abc", *sig).has_value());
  EXPECT_FALSE(VerifySignature(pub->get(), Digest::kNone, "abd", *sig).has_value());
  auto wrong_digest = VerifySignature(pub->get(), Digest::kSha256, "abc", *sig);
  ASSERT_FALSE(wrong_digest.has_value());
  EXPECT_EQ(wrong_digest.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(Ed25519PublicKeyFromRaw("short").has_value());
}

TEST(EvpTest, Rfc8037Ed25519TestVector) {
  // RFC 8037 Appendix A.1 / A.4: the public key and the signature over the example JWS.
  auto x = Base64UrlDecode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  ASSERT_TRUE(x.has_value());
  auto pub = Ed25519PublicKeyFromRaw(*x);
  ASSERT_TRUE(pub.has_value());
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  auto sig = Base64UrlDecode(
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(VerifySignature(pub->get(), Digest::kNone, input, *sig).has_value());
}

TEST(EvpTest, PemRoundTrip) {
  const EVP_PKEY* key = SharedRsaKey();
  auto priv_pem = PrivateKeyPem(key);
  ASSERT_TRUE(priv_pem.has_value());
  EXPECT_NE(priv_pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto loaded = LoadPrivateKeyPem(*priv_pem);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(EVP_PKEY_eq(key, loaded->get()), 1);

  auto pub_pem = PublicKeyPem(key);
  ASSERT_TRUE(pub_pem.has_value());
  EXPECT_NE(pub_pem->find("BEGIN PUBLIC KEY"), std::string::npos);
  auto pub = LoadPublicKeyPem(*pub_pem);
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(EVP_PKEY_eq(key, pub->get()), 1);

  // A public key cannot be written as a private one; garbage is kInvalidArgument.
  EXPECT_EQ(PrivateKeyPem(pub->get()).error().code, Code::kInvalidArgument);
  EXPECT_EQ(LoadPublicKeyPem("not pem").error().code, Code::kInvalidArgument);
  EXPECT_EQ(LoadPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .error()
                .code,
            Code::kInvalidArgument);
  EXPECT_FALSE(LoadPrivateKeyPem(*pub_pem).has_value());

  auto ec = GenerateEcPkey(KeyType::kEcP256);
  ASSERT_TRUE(ec.has_value());
  auto ec_pem = PrivateKeyPem(ec->get());
  ASSERT_TRUE(ec_pem.has_value());
  auto ec_loaded = LoadPrivateKeyPem(*ec_pem);
  ASSERT_TRUE(ec_loaded.has_value());
  EXPECT_EQ(KeyTypeOf(ec_loaded->get()), KeyType::kEcP256);
}

TEST(EvpTest, RsaPkcs1PublicPem) {
  // "RSA PUBLIC KEY" (PKCS#1), as some tools write it, loads too.
  const EVP_PKEY* key = SharedRsaKey();
  std::unique_ptr<OSSL_ENCODER_CTX, OpenSslDeleter<OSSL_ENCODER_CTX, OSSL_ENCODER_CTX_free>> ctx(
      OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr));
  ASSERT_TRUE(ctx);
  unsigned char* data = nullptr;
  size_t len = 0;
  ASSERT_EQ(OSSL_ENCODER_to_data(ctx.get(), &data, &len), 1);
  const std::string pem(reinterpret_cast<const char*>(data), len);
  OPENSSL_free(data);
  ASSERT_NE(pem.find("BEGIN RSA PUBLIC KEY"), std::string::npos);
  auto loaded = LoadPublicKeyPem(pem);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(EVP_PKEY_eq(key, loaded->get()), 1);
}

TEST(EvpTest, RsaFromJwkComponents) {
  const EVP_PKEY* key = SharedRsaKey();
  auto comps = RsaPublicComponents(key);
  ASSERT_TRUE(comps.has_value());
  EXPECT_EQ(comps->n.size(), 256u);
  EXPECT_EQ(comps->e, std::string("\x01\x00\x01", 3));
  auto rebuilt = RsaPublicKeyFromComponents(comps->n, comps->e);
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(EVP_PKEY_eq(key, rebuilt->get()), 1);
  // A leading zero byte (as some encoders emit) is tolerated.
  auto padded = RsaPublicKeyFromComponents(std::string(1, '\0') + comps->n, comps->e);
  ASSERT_TRUE(padded.has_value());
  EXPECT_EQ(EVP_PKEY_eq(key, padded->get()), 1);

  auto sig = SignRs256(key, "x");
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(VerifySignature(rebuilt->get(), Digest::kSha256, "x", *sig).has_value());

  EXPECT_FALSE(RsaPublicKeyFromComponents("", comps->e).has_value());
  EXPECT_FALSE(RsaPublicKeyFromComponents(comps->n, "").has_value());
  EXPECT_FALSE(RsaPublicKeyFromComponents(comps->n, std::string("\x01", 1)).has_value());
  EXPECT_FALSE(RsaPublicKeyFromComponents(comps->n, std::string("\x01\x00", 2)).has_value());
}

TEST(EvpTest, RsaFromRfc7515Components) {
  // RFC 7515 Appendix A.2 key: n and e as published.
  auto n = Base64UrlDecode(
      "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-"
      "4qPCJrcS2mJPMEzP1Pt0Bm4d"
      "4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
      "bSf63kpaSHSXndS5z5rexM"
      "dbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_"
      "I5IhlJH7aGhyxXFvU"
      "K-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ");
  auto e = Base64UrlDecode("AQAB");
  ASSERT_TRUE(n.has_value());
  ASSERT_TRUE(e.has_value());
  auto key = RsaPublicKeyFromComponents(*n, *e);
  ASSERT_TRUE(key.has_value());
  const std::string input =
      "eyJhbGciOiJSUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  auto sig = Base64UrlDecode(
      "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_"
      "O8W2Fp5j"
      "ujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
      "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L"
      "07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-"
      "eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEU"
      "ipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw");
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(VerifySignature(key->get(), Digest::kSha256, input, *sig).has_value());
}

TEST(EvpTest, EcFromCoordinates) {
  auto key = GenerateEcPkey(KeyType::kEcP256);
  ASSERT_TRUE(key.has_value());
  auto coords = EcPublicCoordinates(key->get());
  ASSERT_TRUE(coords.has_value());
  EXPECT_EQ(coords->x.size(), 32u);
  auto rebuilt = EcPublicKeyFromCoordinates(KeyType::kEcP256, coords->x, coords->y);
  ASSERT_TRUE(rebuilt.has_value()) << rebuilt.error().ToString();
  EXPECT_EQ(EVP_PKEY_eq(key->get(), rebuilt->get()), 1);
  // Off-curve point, wrong sizes, wrong curve.
  std::string bad_y = coords->y;
  bad_y[31] = static_cast<char>(bad_y[31] ^ 1);
  EXPECT_EQ(EcPublicKeyFromCoordinates(KeyType::kEcP256, coords->x, bad_y).error().code,
            Code::kInvalidArgument);
  EXPECT_FALSE(EcPublicKeyFromCoordinates(KeyType::kEcP256, coords->x.substr(1), coords->y));
  EXPECT_FALSE(EcPublicKeyFromCoordinates(KeyType::kEcP384, coords->x, coords->y));
  EXPECT_FALSE(EcPublicKeyFromCoordinates(KeyType::kRsa, coords->x, coords->y));
}

TEST(EvpTest, EcP256FromRfc7515Vector) {
  // RFC 7515 Appendix A.3: ES256 example.
  auto x = Base64UrlDecode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
  auto y = Base64UrlDecode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
  ASSERT_TRUE(x && y);
  auto key = EcPublicKeyFromCoordinates(KeyType::kEcP256, *x, *y);
  ASSERT_TRUE(key.has_value());
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  auto raw = Base64UrlDecode(
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  ASSERT_TRUE(raw.has_value());
  auto der = EcdsaRawToDer(*raw, 32);
  ASSERT_TRUE(der.has_value());
  EXPECT_TRUE(VerifySignature(key->get(), Digest::kSha256, input, *der).has_value());
}

TEST(EvpTest, DigestFitsKeyType) {
  const EVP_PKEY* key = SharedRsaKey();
  EXPECT_EQ(SignMessage(key, Digest::kNone, "x").error().code, Code::kInvalidArgument);
  EXPECT_EQ(VerifySignature(key, Digest::kNone, "x", "y").error().code, Code::kInvalidArgument);
  auto pub = PublicOnly(key);
  EXPECT_EQ(SignMessage(pub.get(), Digest::kSha256, "x").error().code, Code::kInvalidArgument);
  EXPECT_EQ(GenerateRsaPkey(1024).error().code, Code::kInvalidArgument);
}

TEST(EvpTest, ComputeDigest) {
  auto d = ComputeDigest(Digest::kSha256, "abc");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(HexEncode(*d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(ComputeDigest(Digest::kNone, "abc").has_value());
}

}  // namespace
}  // namespace natstack::crypto
