#include "pki/local_ca.hpp"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <utility>

#include "core/file.hpp"

namespace natstack::pki {
namespace {

using crypto::BignumPtr;
using crypto::BioPtr;
using crypto::EvpPkeyPtr;
using crypto::GeneralNamesPtr;
using crypto::OpenSslError;
using crypto::X509NamePtr;
using crypto::X509Ptr;
using TimePoint = std::chrono::system_clock::time_point;

constexpr const char* kRootCert = "root.pem";
constexpr const char* kRootKey = "root.key";
constexpr const char* kIntermediateCert = "intermediate.pem";
constexpr const char* kIntermediateKey = "intermediate.key";

// A leaf's notBefore sits this far in the past, so a peer whose clock lags a little still
// accepts a certificate issued a moment ago.
constexpr std::chrono::minutes kBackdate{5};
// RFC 5280 ub-common-name.
constexpr size_t kMaxCommonName = 64;

struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
using OpenSslCharPtr = std::unique_ptr<char, OpenSslFree>;
using OpenSslBytePtr = std::unique_ptr<unsigned char, OpenSslFree>;
using GeneralNamePtr =
    std::unique_ptr<GENERAL_NAME, crypto::OpenSslDeleter<GENERAL_NAME, GENERAL_NAME_free>>;
using Asn1StringPtr =
    std::unique_ptr<ASN1_STRING, crypto::OpenSslDeleter<ASN1_STRING, ASN1_STRING_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, crypto::OpenSslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;

std::string JoinPath(const std::string& dir, const char* file) { return dir + "/" + file; }

// Never prompt on a terminal for a passphrase: an encrypted key is simply not loadable.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

Result<BioPtr> MemBio(std::string_view data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return Fail(OpenSslError("BIO_new_mem_buf"));
  return bio;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

Result<X509Ptr> ParseCertPem(std::string_view pem, const std::string& what) {
  NATSTACK_ASSIGN_OR_RETURN(BioPtr bio, MemBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    const std::string detail = crypto::LastOpenSslError();
    return Fail(Code::kInvalidArgument,
                what + " holds no PEM certificate" + (detail.empty() ? "" : ": " + detail));
  }
  return cert;
}

Result<EvpPkeyPtr> ParseKeyPem(std::string_view pem, const std::string& what) {
  NATSTACK_ASSIGN_OR_RETURN(BioPtr bio, MemBio(pem));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    const std::string detail = crypto::LastOpenSslError();
    return Fail(Code::kInvalidArgument, what + " holds no unencrypted PEM private key" +
                                            (detail.empty() ? "" : ": " + detail));
  }
  return key;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return Fail(OpenSslError("PEM_write_bio_X509"));
  return BioContents(bio.get());
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  // PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: nats-server and Go's tls.X509KeyPair read it.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return Fail(OpenSslError("PEM_write_bio_PrivateKey"));
  return BioContents(bio.get());
}

Result<EvpPkeyPtr> GenerateKey(KeyType type) {
  EvpPkeyPtr key;
  switch (type) {
    case KeyType::kEcdsaP256:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case KeyType::kRsa2048:
      key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
      break;
  }
  if (!key) return Fail(OpenSslError("key generation"));
  return key;
}

std::string HexColon(const unsigned char* data, size_t len) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 3);
  for (size_t i = 0; i < len; ++i) {
    if (i != 0) out.push_back(':');
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0x0F]);
  }
  return out;
}

Result<std::string> FingerprintSha256(const X509* cert) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md.data(), &len) != 1)
    return Fail(OpenSslError("X509_digest"));
  return HexColon(md.data(), len);
}

Result<std::string> SerialHex(const X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return Fail(OpenSslError("ASN1_INTEGER_to_BN"));
  OpenSslCharPtr hex(BN_bn2hex(bn.get()));
  if (!hex) return Fail(OpenSslError("BN_bn2hex"));
  return std::string(hex.get());
}

Result<TimePoint> AsnTimeToTimePoint(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return Fail(OpenSslError("ASN1_TIME_to_tm"));
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

TimePoint TruncateToSeconds(TimePoint t) {
  return std::chrono::time_point_cast<std::chrono::seconds>(t);
}

Result<std::string> NameEntry(const X509_NAME* name, int nid) {
  if (name == nullptr) return std::string();
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return std::string();
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return Fail(OpenSslError("ASN1_STRING_to_UTF8"));
  OpenSslBytePtr owned(utf8);
  return std::string(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
}

bool IsCa(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

// A DNS name for a dNSName SAN: LDH labels (underscore tolerated), 1-63 octets each, at most
// 253 in all, no trailing dot; a leading "*" label makes a wildcard.
bool IsValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.back() == '.') return false;
  size_t start = 0;
  bool first = true;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63) return false;
    if (!(first && label == "*" && end != name.size())) {
      if (label.front() == '-' || label.back() == '-') return false;
      for (const char c : label) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
      }
    }
    first = false;
    start = end + 1;
  }
  return true;
}

// inet_pton, not OpenSSL's a2i_IPADDRESS: the latter accepts trailing garbage after an IPv4.
Result<std::string> ParseIpBytes(const std::string& text) {
  std::array<unsigned char, 16> buf{};
  if (inet_pton(AF_INET, text.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<const char*>(buf.data()), 4);
  if (inet_pton(AF_INET6, text.c_str(), buf.data()) == 1)
    return std::string(reinterpret_cast<const char*>(buf.data()), 16);
  return Fail(Code::kInvalidArgument, "not an IPv4 or IPv6 address: \"" + text + "\"");
}

Result<GeneralNamesPtr> BuildSans(const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ips) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return Fail(OpenSslError("sk_GENERAL_NAME_new_null"));
  auto push = [&](int type, Asn1StringPtr value) -> Status {
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) return Fail(OpenSslError("GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(gn.get(), type, value.release());
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0)
      return Fail(OpenSslError("sk_GENERAL_NAME_push"));
    static_cast<void>(gn.release());  // owned by the stack now
    return Ok();
  };
  for (const auto& dns : dns_names) {
    if (!IsValidDnsName(dns))
      return Fail(Code::kInvalidArgument, "not a valid DNS name: \"" + dns + "\"");
    Asn1StringPtr value(ASN1_IA5STRING_new());
    if (!value || ASN1_STRING_set(value.get(), dns.data(), static_cast<int>(dns.size())) != 1)
      return Fail(OpenSslError("ASN1_STRING_set"));
    NATSTACK_TRY(push(GEN_DNS, std::move(value)));
  }
  for (const auto& ip : ips) {
    NATSTACK_ASSIGN_OR_RETURN(const std::string bytes, ParseIpBytes(ip));
    Asn1StringPtr value(ASN1_OCTET_STRING_new());
    if (!value ||
        ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                              static_cast<int>(bytes.size())) != 1)
      return Fail(OpenSslError("ASN1_OCTET_STRING_set"));
    NATSTACK_TRY(push(GEN_IPADD, std::move(value)));
  }
  return names;
}

Result<X509NamePtr> MakeName(const std::string& common_name, const std::string& organization) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return Fail(OpenSslError("X509_NAME_new"));
  auto add = [&](const char* field, const std::string& value) -> Status {
    if (value.empty()) return Ok();
    if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
      return Fail(OpenSslError(std::string("X509_NAME_add_entry_by_txt ") + field));
    return Ok();
  };
  NATSTACK_TRY(add("O", organization));
  NATSTACK_TRY(add("CN", common_name));
  return name;
}

struct Extension {
  int nid;
  const char* value;  // OpenSSL v3 config syntax, constant strings only (never user input)
};

struct CertSpec {
  const X509_NAME* subject = nullptr;
  TimePoint not_before, not_after;
  std::vector<Extension> extensions;
  const GENERAL_NAMES* sans = nullptr;  // optional
};

// Builds and signs a certificate for `subject_key`. `issuer` null means self-signed (then
// `issuer_key` is the subject's own key).
Result<X509Ptr> BuildCert(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                          EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return Fail(OpenSslError("X509_new"));
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return Fail(OpenSslError("X509_set_version"));

  // 128 random bits, positive (BN_rand never yields a negative number) and never zero.
  BignumPtr serial(BN_new());
  if (!serial) return Fail(OpenSslError("BN_new"));
  do {
    if (BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
      return Fail(OpenSslError("BN_rand"));
  } while (BN_is_zero(serial.get()));
  Asn1IntegerPtr serial_asn(BN_to_ASN1_INTEGER(serial.get(), nullptr));
  if (!serial_asn || X509_set_serialNumber(cert.get(), serial_asn.get()) != 1)
    return Fail(OpenSslError("X509_set_serialNumber"));

  if (X509_set_subject_name(cert.get(), spec.subject) != 1)
    return Fail(OpenSslError("X509_set_subject_name"));
  const X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : spec.subject;
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1)
    return Fail(OpenSslError("X509_set_issuer_name"));
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                    std::chrono::system_clock::to_time_t(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                    std::chrono::system_clock::to_time_t(spec.not_after)) == nullptr)
    return Fail(OpenSslError("ASN1_TIME_set"));
  if (X509_set_pubkey(cert.get(), subject_key) != 1) return Fail(OpenSslError("X509_set_pubkey"));

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  // In order: subjectKeyIdentifier must exist before a self-signed authorityKeyIdentifier reads it.
  for (const Extension& ext : spec.extensions) {
    crypto::X509ExtensionPtr made(X509V3_EXT_conf_nid(nullptr, &ctx, ext.nid, ext.value));
    if (!made) return Fail(OpenSslError(std::string("extension ") + OBJ_nid2sn(ext.nid)));
    if (X509_add_ext(cert.get(), made.get(), -1) != 1) return Fail(OpenSslError("X509_add_ext"));
  }
  if (spec.sans != nullptr && sk_GENERAL_NAME_num(spec.sans) > 0 &&
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, const_cast<GENERAL_NAMES*>(spec.sans), 0,
                        X509V3_ADD_DEFAULT) != 1)
    return Fail(OpenSslError("subjectAltName"));

  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return Fail(OpenSslError("X509_sign"));
  return cert;
}

Status CheckKeyMatches(X509* cert, EVP_PKEY* key, const std::string& cert_path,
                       const std::string& key_path) {
  if (X509_check_private_key(cert, key) != 1) {
    crypto::LastOpenSslError();  // drop the queue entry; the message below says it all
    return Fail(Code::kFailedPrecondition,
                key_path + " does not hold the private key of " + cert_path);
  }
  return Ok();
}

Status CheckStillValid(X509* cert, const std::string& path, TimePoint now) {
  NATSTACK_ASSIGN_OR_RETURN(const TimePoint not_after,
                            AsnTimeToTimePoint(X509_get0_notAfter(cert)));
  if (now >= not_after)
    return Fail(Code::kFailedPrecondition,
                path + " has expired; move the CA directory away to create a new CA");
  return Ok();
}

}  // namespace

Result<LocalCa> LocalCa::LoadOrCreate(const CaOptions& options, const Clock& clock) {
  if (options.dir.empty()) return Fail(Code::kInvalidArgument, "CaOptions.dir is empty");
  if (options.root_lifetime.count() <= 0 || options.intermediate_lifetime.count() <= 0)
    return Fail(Code::kInvalidArgument, "CaOptions lifetimes must be positive");
  const std::string dir = AbsolutePath(options.dir);
  const std::array<const char*, 4> files = {kRootCert, kRootKey, kIntermediateCert,
                                            kIntermediateKey};
  std::string present, missing;
  for (const char* f : files) {
    std::string& list = FileExists(JoinPath(dir, f)) ? present : missing;
    list += list.empty() ? f : std::string(", ") + f;
  }

  if (present.empty()) {
    // Create: root, then the intermediate it signs. Keys first on disk, so a crash leaves at
    // worst an incomplete set, which the next start refuses with a message (never overwrites).
    NATSTACK_TRY(MakeDirs(dir, 0700));
    const TimePoint now = TruncateToSeconds(clock.Now());
    NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr root_key, GenerateKey(KeyType::kEcdsaP256));
    NATSTACK_ASSIGN_OR_RETURN(X509NamePtr root_name,
                              MakeName(options.name + " Root CA", options.name));
    CertSpec root_spec;
    root_spec.subject = root_name.get();
    root_spec.not_before = now - kBackdate;
    root_spec.not_after = now + options.root_lifetime;
    root_spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,keyCertSign,cRLSign"},
                            {NID_subject_key_identifier, "hash"}};
    NATSTACK_ASSIGN_OR_RETURN(X509Ptr root_cert,
                              BuildCert(root_spec, root_key.get(), nullptr, root_key.get()));

    NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr inter_key, GenerateKey(KeyType::kEcdsaP256));
    NATSTACK_ASSIGN_OR_RETURN(X509NamePtr inter_name,
                              MakeName(options.name + " Intermediate CA", options.name));
    CertSpec inter_spec;
    inter_spec.subject = inter_name.get();
    inter_spec.not_before = now - kBackdate;
    inter_spec.not_after = std::min(now + options.intermediate_lifetime, root_spec.not_after);
    inter_spec.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                             {NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"},
                             {NID_subject_key_identifier, "hash"},
                             {NID_authority_key_identifier, "keyid:always"}};
    NATSTACK_ASSIGN_OR_RETURN(X509Ptr inter_cert, BuildCert(inter_spec, inter_key.get(),
                                                            root_cert.get(), root_key.get()));

    NATSTACK_ASSIGN_OR_RETURN(const std::string root_key_pem, KeyToPem(root_key.get()));
    NATSTACK_ASSIGN_OR_RETURN(const std::string root_cert_pem, CertToPem(root_cert.get()));
    NATSTACK_ASSIGN_OR_RETURN(const std::string inter_key_pem, KeyToPem(inter_key.get()));
    NATSTACK_ASSIGN_OR_RETURN(const std::string inter_cert_pem, CertToPem(inter_cert.get()));
    NATSTACK_TRY(WriteFileAtomic(JoinPath(dir, kRootKey), root_key_pem, 0600));
    NATSTACK_TRY(WriteFileAtomic(JoinPath(dir, kRootCert), root_cert_pem, 0644));
    NATSTACK_TRY(WriteFileAtomic(JoinPath(dir, kIntermediateKey), inter_key_pem, 0600));
    NATSTACK_TRY(WriteFileAtomic(JoinPath(dir, kIntermediateCert), inter_cert_pem, 0644));
  } else if (!missing.empty()) {
    return Fail(Code::kFailedPrecondition,
                "CA directory " + dir + " is incomplete: has " + present + " but not " + missing +
                    "; restore the missing files, or move the directory away to create a new CA");
  }

  // Load (also right after creating, so both paths run the same checks).
  const std::string root_cert_path = JoinPath(dir, kRootCert);
  const std::string root_key_path = JoinPath(dir, kRootKey);
  const std::string inter_cert_path = JoinPath(dir, kIntermediateCert);
  const std::string inter_key_path = JoinPath(dir, kIntermediateKey);
  NATSTACK_ASSIGN_OR_RETURN(const std::string root_cert_pem, ReadFile(root_cert_path));
  NATSTACK_ASSIGN_OR_RETURN(const std::string root_key_pem, ReadSecretFile(root_key_path));
  NATSTACK_ASSIGN_OR_RETURN(const std::string inter_cert_pem, ReadFile(inter_cert_path));
  NATSTACK_ASSIGN_OR_RETURN(const std::string inter_key_pem, ReadSecretFile(inter_key_path));
  NATSTACK_ASSIGN_OR_RETURN(X509Ptr root_cert, ParseCertPem(root_cert_pem, root_cert_path));
  NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr root_key, ParseKeyPem(root_key_pem, root_key_path));
  NATSTACK_ASSIGN_OR_RETURN(X509Ptr inter_cert, ParseCertPem(inter_cert_pem, inter_cert_path));
  NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr inter_key, ParseKeyPem(inter_key_pem, inter_key_path));

  NATSTACK_TRY(CheckKeyMatches(root_cert.get(), root_key.get(), root_cert_path, root_key_path));
  NATSTACK_TRY(CheckKeyMatches(inter_cert.get(), inter_key.get(), inter_cert_path, inter_key_path));
  if (!IsCa(root_cert.get()) || !IsCa(inter_cert.get()))
    return Fail(Code::kFailedPrecondition,
                root_cert_path + " and " + inter_cert_path + " must both be CA certificates");
  if (X509_verify(root_cert.get(), X509_get0_pubkey(root_cert.get())) != 1) {
    crypto::LastOpenSslError();
    return Fail(Code::kFailedPrecondition, root_cert_path + " is not a self-signed root");
  }
  if (X509_verify(inter_cert.get(), X509_get0_pubkey(root_cert.get())) != 1) {
    crypto::LastOpenSslError();
    return Fail(Code::kFailedPrecondition,
                inter_cert_path + " is not signed by the root in " + root_cert_path);
  }
  const TimePoint now = clock.Now();
  NATSTACK_TRY(CheckStillValid(root_cert.get(), root_cert_path, now));
  NATSTACK_TRY(CheckStillValid(inter_cert.get(), inter_cert_path, now));

  LocalCa ca;
  NATSTACK_ASSIGN_OR_RETURN(ca.root_fingerprint_, FingerprintSha256(root_cert.get()));
  ca.dir_ = dir;
  ca.clock_ = &clock;
  ca.root_cert_ = std::move(root_cert);
  ca.intermediate_cert_ = std::move(inter_cert);
  ca.intermediate_key_ = std::move(inter_key);
  // The root key is needed only to check it matches; it is not kept in memory.
  return ca;
}

Result<IssuedCert> LocalCa::Issue(const LeafOptions& options) const {
  if (options.dns_names.empty() && options.ip_addresses.empty() && options.common_name.empty())
    return Fail(Code::kInvalidArgument, "a leaf needs a common name, a DNS name or an IP address");
  if (options.lifetime.count() <= 0)
    return Fail(Code::kInvalidArgument, "LeafOptions.lifetime must be positive");
  std::string cn = options.common_name;
  if (cn.empty())
    cn = !options.dns_names.empty() ? options.dns_names.front() : options.ip_addresses.front();
  if (cn.size() > kMaxCommonName)
    return Fail(Code::kInvalidArgument, "common name longer than 64 characters: \"" + cn + "\"");

  NATSTACK_ASSIGN_OR_RETURN(GeneralNamesPtr sans,
                            BuildSans(options.dns_names, options.ip_addresses));
  NATSTACK_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateKey(options.key_type));
  NATSTACK_ASSIGN_OR_RETURN(X509NamePtr subject, MakeName(cn, ""));
  NATSTACK_ASSIGN_OR_RETURN(const TimePoint inter_not_after,
                            AsnTimeToTimePoint(X509_get0_notAfter(intermediate_cert_.get())));

  const TimePoint now = TruncateToSeconds(clock_->Now());
  CertSpec spec;
  spec.subject = subject.get();
  spec.not_before = now - kBackdate;
  spec.not_after = std::min(now + options.lifetime, inter_not_after);
  if (spec.not_after <= now)
    return Fail(Code::kFailedPrecondition,
                "the intermediate CA expires before the leaf could start");
  spec.extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, options.key_type == KeyType::kRsa2048
                          ? "critical,digitalSignature,keyEncipherment"
                          : "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  spec.sans = sans.get();
  NATSTACK_ASSIGN_OR_RETURN(
      X509Ptr cert, BuildCert(spec, key.get(), intermediate_cert_.get(), intermediate_key_.get()));

  IssuedCert out;
  NATSTACK_ASSIGN_OR_RETURN(const std::string leaf_pem, CertToPem(cert.get()));
  NATSTACK_ASSIGN_OR_RETURN(const std::string inter_pem, CertToPem(intermediate_cert_.get()));
  out.chain_pem = leaf_pem + inter_pem;
  NATSTACK_ASSIGN_OR_RETURN(out.key_pem, KeyToPem(key.get()));
  NATSTACK_ASSIGN_OR_RETURN(out.serial_hex, SerialHex(cert.get()));
  out.not_before = spec.not_before;
  out.not_after = spec.not_after;
  return out;
}

std::string LocalCa::RootPemPath() const { return JoinPath(dir_, kRootCert); }

std::string LocalCa::IntermediatePemPath() const { return JoinPath(dir_, kIntermediateCert); }

std::string LocalCa::RootFingerprintSha256() const { return root_fingerprint_; }

std::string LocalCa::RootPem() const {
  auto pem = CertToPem(root_cert_.get());
  return pem ? *pem : std::string();
}

Result<CertInfo> InspectCertificate(std::string_view pem) {
  NATSTACK_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(pem, "input"));
  CertInfo info;
  NATSTACK_ASSIGN_OR_RETURN(info.subject_cn,
                            NameEntry(X509_get_subject_name(cert.get()), NID_commonName));
  NATSTACK_ASSIGN_OR_RETURN(info.issuer_cn,
                            NameEntry(X509_get_issuer_name(cert.get()), NID_commonName));
  NATSTACK_ASSIGN_OR_RETURN(info.serial_hex, SerialHex(cert.get()));
  NATSTACK_ASSIGN_OR_RETURN(info.fingerprint_sha256, FingerprintSha256(cert.get()));
  NATSTACK_ASSIGN_OR_RETURN(info.not_before, AsnTimeToTimePoint(X509_get0_notBefore(cert.get())));
  NATSTACK_ASSIGN_OR_RETURN(info.not_after, AsnTimeToTimePoint(X509_get0_notAfter(cert.get())));
  info.is_ca = IsCa(cert.get());

  GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  const int count = sans ? sk_GENERAL_NAME_num(sans.get()) : 0;
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const int len = ASN1_STRING_length(s);
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : AF_UNSPEC;
      std::array<char, INET6_ADDRSTRLEN> text{};
      if (family == AF_UNSPEC ||
          inet_ntop(family, ASN1_STRING_get0_data(s), text.data(), text.size()) == nullptr)
        return Fail(Code::kInvalidArgument, "certificate has a malformed iPAddress SAN");
      info.ip_addresses.emplace_back(text.data());
    }
  }
  crypto::LastOpenSslError();  // X509_get_ext_d2i leaves an entry when there is no SAN
  return info;
}

Status WriteCertAndKey(const IssuedCert& cert, const std::string& cert_path,
                       const std::string& key_path) {
  NATSTACK_TRY(WriteFileAtomic(key_path, cert.key_pem, 0600));
  NATSTACK_TRY(WriteFileAtomic(cert_path, cert.chain_pem, 0644));
  return Ok();
}

}  // namespace natstack::pki
