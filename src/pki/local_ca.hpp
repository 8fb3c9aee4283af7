#pragma once
/// A local certificate authority for development and the embedded default: one self-signed root,
/// one intermediate that signs every leaf, both kept as PEM files in a directory.
///
/// Layout of `CaOptions::dir` (created 0700 when absent):
///   root.pem          0644  root certificate (ECDSA P-256, self-signed, CA:TRUE)
///   root.key          0600  root private key (PKCS#8 PEM)
///   intermediate.pem  0644  intermediate certificate (ECDSA P-256, CA:TRUE, pathlen:0)
///   intermediate.key  0600  intermediate private key (PKCS#8 PEM)
/// Existing material is never regenerated: a partial set, a key that does not match its
/// certificate, an intermediate not signed by the root, or a key file that group/others may read
/// is an error, and the operator decides what to do with the directory.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "crypto/openssl.hpp"

namespace natstack::pki {

enum class KeyType { kEcdsaP256, kRsa2048 };

struct CaOptions {
  std::string dir;  ///< where the four files live; created when absent
  /// Organisation; the CNs are "<name> Root CA" and "<name> Intermediate CA".
  std::string name = "natstack";
  std::chrono::hours root_lifetime{24 * 3650};
  std::chrono::hours intermediate_lifetime{24 * 1825};
};

struct LeafOptions {
  std::string common_name;                ///< empty: the first DNS name (or IP) is used
  std::vector<std::string> dns_names;     ///< each becomes a dNSName SAN ("*.x.y" allowed)
  std::vector<std::string> ip_addresses;  ///< IPv4 or IPv6 text; each becomes an iPAddress SAN
  std::chrono::hours lifetime{24 * 90};
  KeyType key_type = KeyType::kEcdsaP256;
};

struct IssuedCert {
  std::string chain_pem;   ///< leaf certificate then the intermediate
  std::string key_pem;     ///< leaf private key, unencrypted PKCS#8 PEM: a secret
  std::string serial_hex;  ///< upper-case hex, two digits per byte (as `openssl x509 -serial`)
  std::chrono::system_clock::time_point not_before, not_after;
};

struct CertInfo {
  std::string subject_cn, issuer_cn;
  std::string serial_hex;          ///< upper-case hex, two digits per byte
  std::string fingerprint_sha256;  ///< "AB:CD:..." over the DER certificate
  /// SANs in certificate order; IPs as inet_ntop text ("127.0.0.1", "::1").
  std::vector<std::string> dns_names, ip_addresses;
  std::chrono::system_clock::time_point not_before, not_after;
  bool is_ca = false;  ///< basicConstraints CA:TRUE
};

class LocalCa {
 public:
  /// Loads root + intermediate from `options.dir`, or creates all four files when none of them
  /// exists. `clock` must outlive the returned object (Issue() reads it). Two processes creating
  /// the same directory at the same moment are not arbitrated: the caller holds its state lock.
  /// Errors: kFailedPrecondition for a partial set, a key that does not match its certificate,
  /// an intermediate not signed by the root, or a CA certificate that has expired;
  /// kPermissionDenied for a key file readable by group/others; kInvalidArgument for a file that
  /// is not the PEM it should be; kInternal for OpenSSL or file-system failures.
  static Result<LocalCa> LoadOrCreate(const CaOptions& options, const Clock& clock);

  /// Issues a leaf signed by the intermediate: serverAuth+clientAuth EKU, digitalSignature
  /// (+keyEncipherment for RSA), one SAN per DNS name and IP, random 128-bit positive serial,
  /// notBefore = now - 5 min, notAfter = now + lifetime (capped at the intermediate's notAfter),
  /// SKI/AKI. kInvalidArgument for no names at all, a malformed DNS name or IP, a non-positive
  /// lifetime. Thread-safe (const; OpenSSL objects are only read).
  Result<IssuedCert> Issue(const LeafOptions& options) const;

  /// Absolute path of root.pem: the trust anchor clients load.
  std::string RootPemPath() const;
  /// Absolute path of intermediate.pem.
  std::string IntermediatePemPath() const;
  /// SHA-256 fingerprint of the root, "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints.
  std::string RootFingerprintSha256() const;
  /// Root certificate as PEM.
  std::string RootPem() const;

 private:
  LocalCa() = default;

  std::string dir_;
  const Clock* clock_ = nullptr;
  crypto::X509Ptr root_cert_;
  crypto::X509Ptr intermediate_cert_;
  crypto::EvpPkeyPtr intermediate_key_;
  std::string root_fingerprint_;
};

/// Parses the first certificate of `pem`. kInvalidArgument when there is none.
Result<CertInfo> InspectCertificate(std::string_view pem);

/// Writes the key (0600) then the chain (0644), each atomically (temporary file + rename), so a
/// reader never sees a new certificate next to an old key for longer than one rename.
Status WriteCertAndKey(const IssuedCert& cert, const std::string& cert_path,
                       const std::string& key_path);

}  // namespace natstack::pki
