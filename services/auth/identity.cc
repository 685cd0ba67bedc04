#include "services/auth/identity.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"

namespace caseledger::services {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// The first entry `nid` of the subject, as UTF-8; empty when absent.
std::string SubjectField(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPartner:
      return "partner";
    case Role::kMunicipality:
      return "municipality";
    case Role::kAuditor:
      return "auditor";
    case Role::kPrivacyOfficer:
      return "privacy-officer";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kPartner, Role::kMunicipality, Role::kAuditor, Role::kPrivacyOfficer,
                 Role::kAdmin}) {
    if (RoleName(r) == name) return r;
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "the client certificate's OU is '", name,
      "', which is not a role; use partner, municipality, auditor, privacy-officer or admin"));
}

absl::StatusOr<CallerIdentity> IdentityFromCertificatePem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("out of memory reading the client certificate");
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::UnauthenticatedError("the client certificate is not a valid PEM certificate");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  CallerIdentity id;
  id.organisation = SubjectField(subject, NID_organizationName);
  id.common_name = SubjectField(subject, NID_commonName);
  std::string role = SubjectField(subject, NID_organizationalUnitName);
  if (id.organisation.empty()) {
    return absl::UnauthenticatedError(
        "the client certificate has no O (organisation) in its subject; ask the ledger's "
        "operator for a certificate made by deploy/make-certs.sh");
  }
  if (role.empty()) {
    return absl::UnauthenticatedError(
        "the client certificate has no OU (role) in its subject; ask the ledger's operator for "
        "a certificate made by deploy/make-certs.sh");
  }
  auto parsed = ParseRole(role);
  if (!parsed.ok()) return parsed.status();
  id.role = *parsed;
  return id;
}

absl::StatusOr<CallerIdentity> IdentityMemo::Get(absl::string_view pem) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = known_.find(pem);
    if (it != known_.end()) return it->second;
  }
  // Read outside the lock: two callers may both read a new certificate once.
  absl::StatusOr<CallerIdentity> identity = IdentityFromCertificatePem(pem);
  std::lock_guard<std::mutex> lock(mu_);
  ++parses_;
  if (known_.size() >= capacity_) known_.clear();
  known_.emplace(std::string(pem), identity);
  return identity;
}

size_t IdentityMemo::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return known_.size();
}

uint64_t IdentityMemo::parses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parses_;
}

absl::StatusOr<CallerIdentity> IdentityFromAuthContext(const grpc::AuthContext& context) {
  static IdentityMemo* const memo = new IdentityMemo();
  std::vector<grpc::string_ref> certs = context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (certs.empty()) {
    return absl::UnauthenticatedError(
        "the call carries no verified client certificate; connect with mutual TLS using the "
        "certificate and key issued to your organisation");
  }
  return memo->Get(absl::string_view(certs.front().data(), certs.front().size()));
}

}  // namespace caseledger::services
