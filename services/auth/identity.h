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
// Reading a certificate costs about 250 µs with OpenSSL 3 (most of an
// append's CPU when it was done per call), and a connection presents the same
// certificate on every call, so IdentityFromAuthContext reads each distinct
// certificate once (IdentityMemo) and answers later calls from memory.
//
// Thread-safety: the functions are safe to call concurrently; IdentityMemo is
// thread-safe.
#ifndef CASELEDGER_SERVICES_AUTH_IDENTITY_H_
#define CASELEDGER_SERVICES_AUTH_IDENTITY_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
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

// Remembers IdentityFromCertificatePem per certificate (the PEM bytes the
// TLS layer verified): the answer is a function of those bytes alone, refusals
// included. Holds at most `capacity` certificates; past that it forgets them
// all and starts again (a ledger has a few per organisation).
class IdentityMemo {
 public:
  explicit IdentityMemo(size_t capacity = 1024) : capacity_(capacity) {}
  IdentityMemo(const IdentityMemo&) = delete;
  IdentityMemo& operator=(const IdentityMemo&) = delete;

  absl::StatusOr<CallerIdentity> Get(absl::string_view pem);
  size_t size() const;
  uint64_t parses() const;  // certificates read, not answered from memory

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, absl::StatusOr<CallerIdentity>> known_ ABSL_GUARDED_BY(mu_);
  uint64_t parses_ ABSL_GUARDED_BY(mu_) = 0;
};

// The identity of the peer of a call, through a process-wide IdentityMemo.
// UNAUTHENTICATED without a verified client certificate (e.g. a server
// started with --insecure).
absl::StatusOr<CallerIdentity> IdentityFromAuthContext(const grpc::AuthContext& context);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_AUTH_IDENTITY_H_
