// The caseload projection and what is computed from it: case views, signals
// (the soft rules) and the reports for Regie & Organisatie.
//
// CaseloadProjection (a Projection, run by a ProjectionWorker) owns, under
// its name "caseload" in the projections column family:
//   c/<client id>                  -> CaseRecord (the CaseState of case_state.h,
//                                     folded by the very ApplyEvent the ledger
//                                     uses to accept events: one truth)
//   b/<organisation>\0<begeleider> -> active cases of that begeleider (decimal)
//   t/<organisation>\0<track>      -> active cases of that track (decimal)
// Within a batch of the worker, each client's case is read and decoded once,
// folded in memory through all of its events, and encoded and written once
// (FinishBatch); the counters get their net change once. It is a pure fold: no clock. Everything that depends on "today" (signals,
// phase "closing", days in trajectory, the half-year report moment) is
// computed at query time by the functions below, from a CaseState and an
// injected day — so a rebuild equals incremental building byte for byte and
// the same state gives the same signals whatever the date it was built.
//
// CaseloadReader answers queries from a worker's committed state.
//
// Thread-safety: CaseloadProjection is driven by its worker (serialised).
// CaseloadReader and the free functions are safe to call concurrently.
#ifndef CASELEDGER_PROJECTIONS_CASELOAD_H_
#define CASELEDGER_PROJECTIONS_CASELOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "caseledger/v1/caseload_service.pb.h"
#include "projections/case_state.h"
#include "projections/projection_worker.h"

namespace caseledger::projections {

// The thresholds of the soft rules and the funding agreement.
struct CaseloadPolicy {
  int no_plan_weeks = 8;             // a perspectiefplan within 8 weeks of the intake
  int evaluation_warn_days = 14;     // "evaluation due" this many days ahead
  int term_months = 18;              // the agreed term of 1,5 year
  int term_warn_weeks = 8;           // "term expiring" this many weeks ahead
  int exit_conversation_days = 14;   // eindgesprek at least two weeks before the end
  int no_contact_days = 30;
  int begeleider_max_cases = 30;
  // Funded minimum and maximum of active cases per organisation and track
  // (subsidieafspraak: juridisch 120–200, toekomstoriëntatie/terugkeer 150–200).
  std::map<int, std::pair<int, int>> funded = {
      {v1::TRACK_LEGAL, {120, 200}},
      {v1::TRACK_FUTURE_ORIENTATION, {150, 200}},
      {v1::TRACK_RETURN, {150, 200}},
      {v1::TRACK_SOCIAL, {0, 200}},
  };
  std::pair<int, int> FundedRange(v1::Track track) const;
};

// Milestones a case of `track` is expected to tick (the track's checklist).
const std::vector<v1::Milestone>& ExpectedMilestones(v1::Track track);

// Active cases per begeleider and per track (of one organisation), as the
// signals need them. Missing entries count 0.
struct CaseloadCounts {
  std::map<std::pair<std::string, std::string>, int> begeleider;  // (organisation, begeleider)
  std::map<std::pair<std::string, int>, int> track;               // (organisation, track)
};

// The signals of one case on `today`, in a fixed order. Terminated and erased
// cases have none. Counts feed SIGNAL_BEGELEIDER_OVERLOADED (nullptr: skipped).
std::vector<v1::Signal> CaseSignals(const CaseState& state, absl::CivilDay today,
                                    const CaseloadPolicy& policy,
                                    const CaseloadCounts* counts = nullptr);

// The signals about an organisation's caseload rather than one case: each
// begeleider over the maximum and each track over its funded maximum.
// `begeleider` non-empty: only that begeleider's signal.
std::vector<v1::Signal> CaseloadSignals(const CaseloadCounts& counts, absl::string_view organisation,
                                        absl::string_view begeleider, absl::CivilDay today,
                                        const CaseloadPolicy& policy);

// The case as the caseload shows it on `today`, signals included.
v1::CaseView ToCaseView(const CaseState& state, absl::CivilDay today, const CaseloadPolicy& policy,
                        const CaseloadCounts* counts = nullptr);

// Which organisation held the case on `day` ("" before the intake).
std::string HolderOn(const CaseState& state, absl::CivilDay day);

// The report moments of one case up to `today`: those its events caused and
// "after half a year" (six months after the start of guidance — the
// screening, or the intake without one — if the case had not ended by then).
std::vector<v1::ReportMoment> ReportMoments(const CaseState& state, absl::CivilDay today);

// "2026Q3" -> [2026-07-01, 2026-09-30]; INVALID_ARGUMENT naming the format.
absl::StatusOr<std::pair<absl::CivilDay, absl::CivilDay>> ParseQuarter(absl::string_view quarter);

// The quarterly report over `cases`. A case counts for `organisation` where
// that organisation held it: inflow by the intake's organisation, outflow by
// the holder on the end day, active cases by the holder on the quarter's last
// day, plans and evaluations by the holder on their day, attendance by the
// holder on the quarter's last day (or on the end day, if earlier).
absl::StatusOr<v1::QuarterlyReport> BuildQuarterlyReport(const std::vector<CaseState>& cases,
                                                         absl::string_view organisation,
                                                         v1::Track track,
                                                         absl::string_view quarter,
                                                         const CaseloadPolicy& policy);

class CaseloadProjection : public Projection {
 public:
  static constexpr char kName[] = "caseload";
  std::string name() const override { return kName; }
  // 2: CaseRecord without the stream's event ids.
  uint64_t version() const override { return 2; }
  absl::Status Apply(const storage::RecordedEvent& event, ProjectionState& state) override;
  absl::Status FinishBatch(ProjectionState& state) override;
  void AbandonBatch() override;

 private:
  // The working set of the batch being applied: every case it touched, as
  // folded so far, and the net change of every counter it moved.
  absl::flat_hash_map<std::string, CaseState> cases_;
  std::map<std::string, int> counter_changes_;
};

// Queries over a caseload worker's committed state.
class CaseloadReader {
 public:
  explicit CaseloadReader(const ProjectionWorker* worker) : worker_(worker) {}

  // The stored state of one client; NOT_FOUND when the projection has none.
  absl::StatusOr<CaseState> Get(absl::string_view client_id) const;

  // Up to `limit` cases with client ids after `start_after` for which
  // `keep` is true, in client id order. `*last_scanned` is set to the last
  // client id examined (the resume point, even when it was filtered out);
  // `*exhausted` tells whether the scan reached the end.
  absl::StatusOr<std::vector<CaseState>> List(absl::string_view start_after, size_t limit,
                                              const std::function<bool(const CaseState&)>& keep,
                                              std::string* last_scanned, bool* exhausted) const;

  // Every case for which `keep` is true.
  absl::StatusOr<std::vector<CaseState>> All(
      const std::function<bool(const CaseState&)>& keep) const;

  absl::StatusOr<CaseloadCounts> Counts() const;

 private:
  const ProjectionWorker* worker_;
};

}  // namespace caseledger::projections

#endif  // CASELEDGER_PROJECTIONS_CASELOAD_H_
