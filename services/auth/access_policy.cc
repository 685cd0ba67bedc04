#include "services/auth/access_policy.h"

#include "absl/strings/str_cat.h"

namespace caseledger::services {
absl::Status RequireRole(const CallerIdentity& caller, Role role, absl::string_view call) {
  if (caller.role == role) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(call, " needs the ", RoleName(role),
                                                  " role; your certificate (", caller.organisation,
                                                  ") has role ", RoleName(caller.role)));
}

absl::Status AuthorizeAppend(const CallerIdentity& caller, const projections::CaseState& state,
                             const v1::Event& first_event) {
  absl::Status role = RequireRole(caller, Role::kPartner, "AppendEvents");
  if (!role.ok()) return role;
  if (!state.has_intake) {
    // A new client: only its own intake. Other first events fail the case
    // rules with FAILED_PRECONDITION ("has no intake").
    if (first_event.has_intake() && first_event.intake().organisation() != caller.organisation) {
      return absl::PermissionDeniedError(absl::StrCat(
          caller.organisation, " cannot record an intake for ", first_event.intake().organisation(),
          "; set intake.organisation to your own organisation"));
    }
    return absl::OkStatus();
  }
  if (state.organisation != caller.organisation) {
    return absl::PermissionDeniedError(absl::StrCat(
        "client ", state.client_id, " is held by ", state.organisation, "; ",
        caller.organisation,
        " may not append to it (only the holding organisation may; a Handover moves a case)"));
  }
  return absl::OkStatus();
}

absl::Status AuthorizeClientRead(const CallerIdentity& caller,
                                 const projections::CaseState& state, absl::CivilDay today) {
  switch (caller.role) {
    case Role::kAuditor:
      break;
    case Role::kPartner:
      if (state.version > 0 && state.organisation != caller.organisation &&
          !state.ConsentCovers(caller.organisation, today)) {
        return absl::PermissionDeniedError(absl::StrCat(
            caller.organisation, " neither holds client ", state.client_id,
            " nor is named in a current consent of the client; ask the holding organisation (",
            state.organisation, ") to record the client's ConsentGranted"));
      }
      break;
    case Role::kMunicipality:
      return absl::PermissionDeniedError(
          "the municipality role reads no raw events; use the caseload views and reports");
    case Role::kPrivacyOfficer:
      return absl::PermissionDeniedError(
          "the privacy-officer role reads client data through the PrivacyService "
          "(ExportSubjectData), where the access request is recorded");
    case Role::kAdmin:
      return absl::PermissionDeniedError("the admin role operates the ledger and reads no client data");
  }
  if (state.version == 0) {
    return absl::NotFoundError(absl::StrCat("client ", state.client_id,
                                            " has no events; check the client id"));
  }
  return absl::OkStatus();
}

absl::Status AuthorizeLogRead(const CallerIdentity& caller, absl::string_view call) {
  if (caller.role != Role::kAuditor) {
    return absl::PermissionDeniedError(absl::StrCat(
        call, " returns every client's events and needs the auditor role; your certificate (",
        caller.organisation, ") has role ", RoleName(caller.role),
        (caller.role == Role::kPartner ? "; partners read their clients with ReadClientEvents" : "")));
  }
  return absl::OkStatus();
}

bool SeesPersonalData(const CallerIdentity& caller) { return caller.role == Role::kPartner; }

absl::Status AuthorizeCaseViews(const CallerIdentity& caller, absl::string_view call) {
  switch (caller.role) {
    case Role::kPartner:
    case Role::kAuditor:
      return absl::OkStatus();
    case Role::kMunicipality:
      return absl::PermissionDeniedError(absl::StrCat(
          call, ": the municipality role sees no case views; use ListReportMoments and "
                "GetQuarterlyReport, which are pseudonymous"));
    default:
      return absl::PermissionDeniedError(absl::StrCat(
          call, " needs the partner or auditor role; your certificate has role ",
          RoleName(caller.role)));
  }
}

absl::StatusOr<std::string> ReportOrganisation(const CallerIdentity& caller,
                                               absl::string_view requested, bool required,
                                               absl::string_view call) {
  switch (caller.role) {
    case Role::kPartner:
      if (!requested.empty() && requested != caller.organisation) {
        return absl::PermissionDeniedError(absl::StrCat(
            call, ": ", caller.organisation, " may see its own caseload only, not ", requested,
            "'s; leave organisation empty or set it to ", caller.organisation));
      }
      return caller.organisation;
    case Role::kMunicipality:
    case Role::kAuditor:
      if (required && requested.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            call, ": organisation is not set; name the partner organisation, e.g. "
                  "\"vluchtelingenwerk\""));
      }
      return std::string(requested);
    default:
      return absl::PermissionDeniedError(absl::StrCat(
          call, " needs the partner, municipality or auditor role; your certificate has role ",
          RoleName(caller.role)));
  }
}

}  // namespace caseledger::services
