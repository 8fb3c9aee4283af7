#include "crypto/evp.hpp"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <limits>
#include <memory>

namespace natstack::crypto {
namespace {

using ParamBldPtr =
    std::unique_ptr<OSSL_PARAM_BLD, OpenSslDeleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpenSslDeleter<OSSL_PARAM, OSSL_PARAM_free>>;
using DecoderCtxPtr =
    std::unique_ptr<OSSL_DECODER_CTX, OpenSslDeleter<OSSL_DECODER_CTX, OSSL_DECODER_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpenSslDeleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

const EVP_MD* DigestMd(Digest digest) {
  switch (digest) {
    case Digest::kSha256: return EVP_sha256();
    case Digest::kSha384: return EVP_sha384();
    case Digest::kSha512: return EVP_sha512();
    case Digest::kNone: return nullptr;
  }
  return nullptr;
}

const char* CurveGroupName(KeyType curve) {
  switch (curve) {
    case KeyType::kEcP256: return "prime256v1";
    case KeyType::kEcP384: return "secp384r1";
    case KeyType::kEcP521: return "secp521r1";
    default: return nullptr;
  }
}

// Keys are never modified after creation; OpenSSL's API is not const-correct for reads.
EVP_PKEY* Mutable(const EVP_PKEY* key) { return const_cast<EVP_PKEY*>(key); }

Result<EvpPkeyPtr> FromData(const char* type, int selection, const ParamBldPtr& bld,
                            const std::string& what) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  if (!params) return Fail(OpenSslError(what + ": building parameters"));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx) return Fail(OpenSslError(what + ": no " + type + " implementation"));
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    const std::string detail = LastOpenSslError();
    return Fail(Code::kInvalidArgument, what + (detail.empty() ? "" : ": " + detail));
  }
  return EvpPkeyPtr(raw);
}

BignumPtr BignumFromBytes(std::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return nullptr;
  return BignumPtr(BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), nullptr));
}

std::string BignumBytes(const BIGNUM* bn, int pad_to = 0) {
  const int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(len), '\0');
  if (len > 0) {
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  }
  return out;
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) return Fail(OpenSslError("reading memory BIO"));
  return std::string(data, static_cast<size_t>(len));
}

Status CheckDigestFits(KeyType type, Digest digest) {
  if (type == KeyType::kEd25519 && digest != Digest::kNone)
    return Fail(Code::kInvalidArgument, "Ed25519 signatures take no separate digest");
  if (type != KeyType::kEd25519 && digest == Digest::kNone)
    return Fail(Code::kInvalidArgument,
                std::string(KeyTypeName(type)) + " signatures need a digest");
  if (type == KeyType::kOther) return Fail(Code::kInvalidArgument, "unsupported key type");
  return Ok();
}

Status ConfigurePadding(EVP_PKEY_CTX* pctx, KeyType type, Digest digest, Padding padding) {
  if (type != KeyType::kRsa) return Ok();
  if (padding == Padding::kPkcs1) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
      return Fail(OpenSslError("setting PKCS#1 padding"));
    return Ok();
  }
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, DigestMd(digest)) != 1) {
    return Fail(OpenSslError("setting PSS padding"));
  }
  return Ok();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa: return "RSA";
    case KeyType::kEcP256: return "EC P-256";
    case KeyType::kEcP384: return "EC P-384";
    case KeyType::kEcP521: return "EC P-521";
    case KeyType::kEd25519: return "Ed25519";
    case KeyType::kOther: return "other";
  }
  return "other";
}

KeyType KeyTypeOf(const EVP_PKEY* key) {
  if (key == nullptr) return KeyType::kOther;
  EVP_PKEY* k = Mutable(key);
  // RSA-PSS-restricted keys ("RSASSA-PSS" SPKI) are deliberately kOther: JWKs carry plain RSA.
  if (EVP_PKEY_is_a(k, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(k, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(k, "EC")) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(k, name, sizeof name, &len) != 1) {
      ERR_clear_error();
      return KeyType::kOther;
    }
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
    if (nid == NID_X9_62_prime256v1) return KeyType::kEcP256;
    if (nid == NID_secp384r1) return KeyType::kEcP384;
    if (nid == NID_secp521r1) return KeyType::kEcP521;
  }
  return KeyType::kOther;
}

bool HasPrivateKey(const EVP_PKEY* key) {
  if (key == nullptr) return false;
  EVP_PKEY* k = Mutable(key);
  switch (KeyTypeOf(key)) {
    case KeyType::kRsa: {
      BIGNUM* d = nullptr;
      const bool has = EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
      BN_clear_free(d);
      ERR_clear_error();
      return has;
    }
    case KeyType::kEcP256:
    case KeyType::kEcP384:
    case KeyType::kEcP521: {
      BIGNUM* priv = nullptr;
      const bool has = EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1;
      BN_clear_free(priv);
      ERR_clear_error();
      return has;
    }
    case KeyType::kEd25519: {
      size_t len = 0;
      const bool has = EVP_PKEY_get_raw_private_key(k, nullptr, &len) == 1 && len > 0;
      ERR_clear_error();
      return has;
    }
    case KeyType::kOther: break;
  }
  return false;
}

size_t EcCoordinateSize(KeyType type) {
  switch (type) {
    case KeyType::kEcP256: return 32;
    case KeyType::kEcP384: return 48;
    case KeyType::kEcP521: return 66;
    default: return 0;
  }
}

Result<EvpPkeyPtr> LoadPublicKeyPem(std::string_view pem) {
  if (pem.empty()) return Fail(Code::kInvalidArgument, "empty public key PEM");
  EVP_PKEY* raw = nullptr;
  DecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, nullptr, OSSL_KEYMGMT_SELECT_PUBLIC_KEY, nullptr, nullptr));
  if (!ctx) return Fail(OpenSslError("creating a PEM decoder"));
  const unsigned char* data = Bytes(pem);
  size_t len = pem.size();
  if (OSSL_DECODER_from_data(ctx.get(), &data, &len) != 1 || raw == nullptr) {
    ERR_clear_error();
    return Fail(Code::kInvalidArgument, "no PEM public key found");
  }
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> LoadPrivateKeyPem(std::string_view pem) {
  if (pem.empty()) return Fail(Code::kInvalidArgument, "empty private key PEM");
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    return Fail(Code::kInvalidArgument, "private key PEM too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail(OpenSslError("creating a memory BIO"));
  // An empty passphrase callback result: encrypted keys fail instead of prompting on a tty.
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (raw == nullptr) {
    ERR_clear_error();
    return Fail(Code::kInvalidArgument, "no unencrypted PEM private key found");
  }
  return EvpPkeyPtr(raw);
}

Result<std::string> PublicKeyPem(const EVP_PKEY* key) {
  if (key == nullptr) return Fail(Code::kInvalidArgument, "no key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return Fail(OpenSslError("creating a memory BIO"));
  if (PEM_write_bio_PUBKEY(bio.get(), Mutable(key)) != 1)
    return Fail(OpenSslError("writing public key PEM"));
  return BioContents(bio.get());
}

Result<std::string> PrivateKeyPem(const EVP_PKEY* key) {
  if (!HasPrivateKey(key)) return Fail(Code::kInvalidArgument, "not a private key");
  // BIO_s_secmem clears its buffers on free.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return Fail(OpenSslError("creating a memory BIO"));
  if (PEM_write_bio_PrivateKey(bio.get(), Mutable(key), nullptr, nullptr, 0, nullptr, nullptr) !=
      1) {
    return Fail(OpenSslError("writing private key PEM"));
  }
  return BioContents(bio.get());
}

Result<EvpPkeyPtr> RsaPublicKeyFromComponents(std::string_view n, std::string_view e) {
  while (!n.empty() && n.front() == '\0') n.remove_prefix(1);
  while (!e.empty() && e.front() == '\0') e.remove_prefix(1);
  if (n.empty() || (static_cast<unsigned char>(n.back()) & 1) == 0)
    return Fail(Code::kInvalidArgument, "RSA modulus is empty or even");
  if (n.size() > 2048)  // 16384 bits: far beyond any real key; bounds verification cost
    return Fail(Code::kInvalidArgument, "RSA modulus too large");
  if (e.empty() || e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1) == 0 ||
      (e.size() == 1 && static_cast<unsigned char>(e[0]) == 1)) {
    return Fail(Code::kInvalidArgument, "RSA exponent is not an odd number > 1");
  }
  BignumPtr bn_n = BignumFromBytes(n);
  BignumPtr bn_e = BignumFromBytes(e);
  if (!bn_n || !bn_e) return Fail(OpenSslError("RSA components"));
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Fail(OpenSslError("RSA parameters"));
  }
  return FromData("RSA", EVP_PKEY_PUBLIC_KEY, bld, "invalid RSA public key");
}

Result<EvpPkeyPtr> EcPublicKeyFromCoordinates(KeyType curve, std::string_view x,
                                              std::string_view y) {
  const char* group = CurveGroupName(curve);
  const size_t size = EcCoordinateSize(curve);
  if (group == nullptr) return Fail(Code::kInvalidArgument, "not an EC curve");
  if (x.size() != size || y.size() != size) {
    return Fail(Code::kInvalidArgument, std::string(KeyTypeName(curve)) + " coordinates must be " +
                                            std::to_string(size) + " bytes each");
  }
  std::string point;
  point.reserve(1 + 2 * size);
  point.push_back('\x04');  // uncompressed (SEC 1 §2.3.3)
  point.append(x);
  point.append(y);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Fail(OpenSslError("EC parameters"));
  }
  NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr key,
                            FromData("EC", EVP_PKEY_PUBLIC_KEY, bld, "invalid EC public key"));
  // fromdata decodes the point (rejecting points off the curve); check explicitly anyway.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    ERR_clear_error();
    return Fail(Code::kInvalidArgument, "EC point is not on the curve");
  }
  return key;
}

Result<EvpPkeyPtr> Ed25519PublicKeyFromRaw(std::string_view raw) {
  if (raw.size() != 32) return Fail(Code::kInvalidArgument, "Ed25519 public keys are 32 bytes");
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(raw), raw.size());
  if (key == nullptr) {
    ERR_clear_error();
    return Fail(Code::kInvalidArgument, "invalid Ed25519 public key");
  }
  return EvpPkeyPtr(key);
}

Result<RsaComponents> RsaPublicComponents(const EVP_PKEY* key) {
  if (KeyTypeOf(key) != KeyType::kRsa) return Fail(Code::kInvalidArgument, "not an RSA key");
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(Mutable(key), OSSL_PKEY_PARAM_RSA_N, &n) != 1) {
    return Fail(OpenSslError("reading RSA modulus"));
  }
  BignumPtr n_owner(n);
  if (EVP_PKEY_get_bn_param(Mutable(key), OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    return Fail(OpenSslError("reading RSA exponent"));
  }
  BignumPtr e_owner(e);
  return RsaComponents{BignumBytes(n), BignumBytes(e)};
}

Result<EcCoordinates> EcPublicCoordinates(const EVP_PKEY* key) {
  const KeyType type = KeyTypeOf(key);
  const size_t size = EcCoordinateSize(type);
  if (size == 0) return Fail(Code::kInvalidArgument, "not a P-256/P-384/P-521 key");
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(Mutable(key), OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1) {
    return Fail(OpenSslError("reading EC x"));
  }
  BignumPtr x_owner(x);
  if (EVP_PKEY_get_bn_param(Mutable(key), OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    return Fail(OpenSslError("reading EC y"));
  }
  BignumPtr y_owner(y);
  return EcCoordinates{BignumBytes(x, static_cast<int>(size)),
                       BignumBytes(y, static_cast<int>(size))};
}

Result<std::string> Ed25519RawPublicKey(const EVP_PKEY* key) {
  if (KeyTypeOf(key) != KeyType::kEd25519) return Fail(Code::kInvalidArgument, "not Ed25519");
  std::string out(32, '\0');
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(Mutable(key), reinterpret_cast<unsigned char*>(out.data()),
                                  &len) != 1 ||
      len != 32) {
    return Fail(OpenSslError("reading Ed25519 public key"));
  }
  return out;
}

Result<EvpPkeyPtr> GenerateRsaPkey(int bits) {
  if (bits < 2048) return Fail(Code::kInvalidArgument, "RSA keys must have at least 2048 bits");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Fail(OpenSslError("generating an RSA key"));
  }
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> GenerateEcPkey(KeyType curve) {
  const char* group = CurveGroupName(curve);
  if (group == nullptr) return Fail(Code::kInvalidArgument, "not an EC curve");
  EVP_PKEY* raw = EVP_EC_gen(group);
  if (raw == nullptr) return Fail(OpenSslError("generating an EC key"));
  return EvpPkeyPtr(raw);
}

Result<EvpPkeyPtr> GenerateEd25519Pkey() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return Fail(OpenSslError("generating an Ed25519 key"));
  return EvpPkeyPtr(raw);
}

Result<std::string> ComputeDigest(Digest digest, std::string_view data) {
  const EVP_MD* md = DigestMd(digest);
  if (md == nullptr) return Fail(Code::kInvalidArgument, "no digest chosen");
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1)
    return Fail(OpenSslError("computing a digest"));
  return std::string(reinterpret_cast<const char*>(out), len);
}

Result<std::string> SignMessage(const EVP_PKEY* key, Digest digest, std::string_view data,
                                Padding padding) {
  const KeyType type = KeyTypeOf(key);
  NATSTACK_TRY(CheckDigestFits(type, digest));
  if (!HasPrivateKey(key)) return Fail(Code::kInvalidArgument, "signing needs a private key");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpenSslError("EVP_MD_CTX_new"));
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestSignInit(ctx.get(), &pctx, DigestMd(digest), nullptr, Mutable(key)) != 1)
    return Fail(OpenSslError("initialising a signature"));
  NATSTACK_TRY(ConfigurePadding(pctx, type, digest, padding));
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, Bytes(data), data.size()) != 1)
    return Fail(OpenSslError("sizing a signature"));
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, Bytes(data),
                     data.size()) != 1) {
    return Fail(OpenSslError("signing"));
  }
  sig.resize(len);
  return sig;
}

Result<std::string> SignRs256(const EVP_PKEY* key, std::string_view data) {
  if (KeyTypeOf(key) != KeyType::kRsa) return Fail(Code::kInvalidArgument, "RS256 needs RSA");
  return SignMessage(key, Digest::kSha256, data, Padding::kPkcs1);
}

Status VerifySignature(const EVP_PKEY* key, Digest digest, std::string_view data,
                       std::string_view signature, Padding padding) {
  const KeyType type = KeyTypeOf(key);
  NATSTACK_TRY(CheckDigestFits(type, digest));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Fail(OpenSslError("EVP_MD_CTX_new"));
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, DigestMd(digest), nullptr, Mutable(key)) != 1)
    return Fail(OpenSslError("initialising a verification"));
  NATSTACK_TRY(ConfigurePadding(pctx, type, digest, padding));
  const int rc =
      EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(data), data.size());
  // 0 = does not verify; < 0 = malformed signature or other failure: both are refusals.
  ERR_clear_error();
  if (rc != 1) return Fail(Code::kUnauthenticated, "signature does not verify");
  return Ok();
}

Result<std::string> EcdsaRawToDer(std::string_view raw, size_t coordinate_size) {
  if (coordinate_size == 0 || raw.size() != 2 * coordinate_size) {
    return Fail(Code::kInvalidArgument,
                "ECDSA signature must be " + std::to_string(2 * coordinate_size) + " bytes");
  }
  BignumPtr r = BignumFromBytes(raw.substr(0, coordinate_size));
  BignumPtr s = BignumFromBytes(raw.substr(coordinate_size));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return Fail(OpenSslError("ECDSA signature"));
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return Fail(OpenSslError("ECDSA_SIG_set0"));
  (void)r.release();  // owned by sig now
  (void)s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0 || der == nullptr) return Fail(OpenSslError("encoding an ECDSA signature"));
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

Result<std::string> EcdsaDerToRaw(std::string_view der, size_t coordinate_size) {
  if (coordinate_size == 0) return Fail(Code::kInvalidArgument, "no coordinate size");
  const unsigned char* p = Bytes(der);
  if (der.size() > static_cast<size_t>(std::numeric_limits<long>::max()))
    return Fail(Code::kInvalidArgument, "ECDSA signature too large");
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != Bytes(der) + der.size()) {
    ERR_clear_error();
    return Fail(Code::kInvalidArgument, "malformed DER ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  const int size = static_cast<int>(coordinate_size);
  if (BN_num_bytes(r) > size || BN_num_bytes(s) > size)
    return Fail(Code::kInvalidArgument, "ECDSA signature too large for the curve");
  return BignumBytes(r, size) + BignumBytes(s, size);
}

}  // namespace natstack::crypto
