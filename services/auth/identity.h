// Caller identity: which organisation, in which role, is calling.
//
// Identity comes only from the verified client certificate (mutual TLS):
//   subject O  (organizationName)       -> organisation, e.g. "goedwerk"
//   subject OU (organizationalUnitName) -> role: partner | municipality |
//                                          auditor | privacy-officer | admin
//   subject CN (commonName)             -> the certificate's holder, for logs
// The acting person is not in the certificate: it travels per call in the
// request metadata "x-user-id" and is recorded in the event envelope.
//
// Thread-safety: pure functions; safe to call concurrently.
#ifndef CASELEDGER_SERVICES_AUTH_IDENTITY_H_
#define CASELEDGER_SERVICES_AUTH_IDENTITY_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace grpc {
class AuthContext;
}

namespace caseledger::services {

enum class Role { kPartner, kMunicipality, kAuditor, kPrivacyOfficer, kAdmin };

// "partner", "municipality", "auditor", "privacy-officer", "admin".
absl::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(absl::string_view name);

struct CallerIdentity {
  std::string organisation;
  Role role = Role::kPartner;
  std::string common_name;
};

// Reads O, OU and CN from a PEM certificate. UNAUTHENTICATED when a field is
// missing or the role is unknown; the message says which.
absl::StatusOr<CallerIdentity> IdentityFromCertificatePem(absl::string_view pem);

// The identity of the peer of a call. UNAUTHENTICATED without a verified
// client certificate (e.g. a server started with --insecure).
absl::StatusOr<CallerIdentity> IdentityFromAuthContext(const grpc::AuthContext& context);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_AUTH_IDENTITY_H_
