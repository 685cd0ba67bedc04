#include "tools/demo_caseload.h"

#include <algorithm>
#include <array>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace caseledger::tools {
namespace {

constexpr char kVluchtelingenwerk[] = "vluchtelingenwerk";
constexpr char kGoedwerk[] = "goedwerk";

// Invented name parts; combinations describe no real person.
constexpr std::array<const char*, 16> kGivenNames = {
    "Amina", "Yonas", "Fatou", "Samir", "Leyla", "Daniel", "Hawa", "Tesfay",
    "Nadia", "Omar", "Selam", "Ibrahim", "Mariam", "Kofi", "Rahel", "Yusuf"};
constexpr std::array<const char*, 12> kFamilyNames = {
    "Demokahn", "Testerai", "Voorbeeldi", "Proefmane", "Fictiegebre", "Schetsdiallo",
    "Modelhaile", "Oefenmensah", "Probeerova", "Ontwerpyeb", "Dummiyar", "Maquettara"};
constexpr std::array<const char*, 10> kCountries = {"ERI", "ETH", "SOM", "SDN", "GIN",
                                                    "NGA", "GHA", "MAR", "AFG", "IRQ"};
constexpr std::array<const char*, 4> kLocations = {"LVV Amsterdam-West", "LVV Amsterdam-Oost",
                                                   "LVV Amsterdam-Noord", "LVV Amsterdam-Zuidoost"};

class ClientScript {
 public:
  ClientScript(int index, const DemoOptions& options)
      : index_(index),
        rng_(options.seed * 1'000'003u + static_cast<uint32_t>(index)),
        // Anchored to the start of "today" so that reloading on the same day
        // produces identical events (and so identical retries).
        today_(absl::FromCivil(absl::ToCivilDay(options.now, absl::UTCTimeZone()), absl::UTCTimeZone())),
        cutoff_(today_),
        client_id_(absl::StrFormat("c-%06d", 100000 + index)),
        id_prefix_(absl::StrCat("demo-", options.seed, "-", client_id_, "-")) {}

  std::vector<DemoBatch> Generate() {
    const bool at_vw = index_ % 3 != 2;
    organisation_ = at_vw ? kVluchtelingenwerk : kGoedwerk;
    absl::Time t = today_ - absl::Hours(24 * Uniform(5, 540)) + absl::Hours(Uniform(9, 16));
    intake_at_ = t;

    v1::Track track = at_vw ? Pick<v1::Track>({v1::TRACK_LEGAL, v1::TRACK_SOCIAL, v1::TRACK_FUTURE_ORIENTATION})
                            : Pick<v1::Track>({v1::TRACK_FUTURE_ORIENTATION, v1::TRACK_RETURN});
    // Every target group occurs: cycle through them.
    auto target = static_cast<v1::TargetGroup>(1 + index_ % 7);
    Add(t, Intake(track, target));

    t += Days(7, 21);
    Add(t, [&] {
      v1::Event e;
      e.mutable_screening_completed()->set_legal_perspective(track == v1::TRACK_LEGAL);
      e.mutable_screening_completed()->set_medical_concerns(target == v1::TARGET_GROUP_MEDICALLY_VULNERABLE);
      return e;
    }());
    Add(t + absl::Hours(2), Milestone(v1::MILESTONE_SCREENING_DONE, t + absl::Hours(2)));
    t += Days(1, 3);
    const std::string begeleider = absl::StrCat(organisation_, "-begeleider-", Uniform(1, 8));
    const std::string casemanager = absl::StrCat(organisation_, "-casemanager-", Uniform(1, 2));
    {
      v1::Event e;
      e.mutable_caseworker_assigned()->set_begeleider(begeleider);
      e.mutable_caseworker_assigned()->set_casemanager(casemanager);
      e.mutable_caseworker_assigned()->set_team(absl::StrCat("team-", Uniform(1, 3)));
      Add(t, e);
    }

    // Perspectiefplan within 2-6 weeks; a few clients never get one in time.
    absl::Time plan_at = t + Days(14, 42);
    if (Uniform(0, 9) == 0) plan_at += Days(60, 90);
    v1::PlanDirection direction =
        track == v1::TRACK_LEGAL    ? v1::PLAN_DIRECTION_NETHERLANDS
        : track == v1::TRACK_RETURN ? v1::PLAN_DIRECTION_RETURN
                                    : static_cast<v1::PlanDirection>(Uniform(1, 3));
    Add(plan_at, Plan(direction, begeleider, casemanager, plan_at));

    // Monthly contact, fortnightly activities, checklist milestones.
    const std::vector<v1::Milestone> milestones =
        direction == v1::PLAN_DIRECTION_NETHERLANDS
            ? std::vector<v1::Milestone>{v1::MILESTONE_VVA_TAKEN, v1::MILESTONE_DOSSIER_ANALYSIS,
                                         v1::MILESTONE_PERSPECTIVE_ANALYSIS, v1::MILESTONE_DOCUMENTS_DELIVERED,
                                         v1::MILESTONE_LAWYER_ENGAGED, v1::MILESTONE_APPLICATION_SUBMITTED}
            : std::vector<v1::Milestone>{v1::MILESTONE_PERSPECTIVE_ANALYSIS, v1::MILESTONE_IDENTITY_DOCUMENTS,
                                         v1::MILESTONE_RETURN_OBSTACLES_REMOVED, v1::MILESTONE_IOM_REGISTERED,
                                         v1::MILESTONE_REINTEGRATION_PLAN};
    size_t next_milestone = 0;
    const absl::Time end_of_term = intake_at_ + absl::Hours(24 * 540);
    absl::Time handover_at = absl::InfiniteFuture();
    if (at_vw && Uniform(0, 3) == 0) handover_at = plan_at + Days(45, 200);
    absl::Time terminate_at = absl::InfiniteFuture();
    if (end_of_term < cutoff_) {
      terminate_at = end_of_term;
    } else if (Uniform(0, 2) == 0) {
      terminate_at = plan_at + Days(60, 400);
    }

    for (absl::Time m = plan_at + Days(10, 20); m < std::min(terminate_at, cutoff_); m += Days(12, 30)) {
      if (m > handover_at && !handed_over_) DoHandover(handover_at, direction);
      Add(m, Attendance(m));
      if (Uniform(0, 1) == 0) Add(m + absl::Hours(1), Contact());
      if (next_milestone < milestones.size() && Uniform(0, 2) == 0) {
        Add(m + absl::Hours(2), Milestone(milestones[next_milestone++], m + absl::Hours(2)));
      }
      if (!evaluated_ && m > plan_at + absl::Hours(24 * 175)) {
        Add(m + absl::Hours(3), Evaluation(m));
        evaluated_ = true;
      }
      if (organisation_ == kGoedwerk && !assessed_ && direction == v1::PLAN_DIRECTION_RETURN &&
          Uniform(0, 3) == 0) {
        Add(m + absl::Hours(4), ReturnAssessment());
        assessed_ = true;
      }
    }
    if (terminate_at < cutoff_) {
      Add(terminate_at - Days(14, 28), [&] {
        v1::Event e;
        e.mutable_exit_conversation_held()->set_in_person(true);
        e.mutable_exit_conversation_held()->set_outcome("Hoe nu verder besproken");
        return e;
      }());
      Add(terminate_at, Termination(terminate_at, end_of_term, begeleider, casemanager));
    }
    return Batches();
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  absl::Duration Days(int lo, int hi) { return absl::Hours(24 * Uniform(lo, hi)); }
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return *(values.begin() + Uniform(0, static_cast<int>(values.size()) - 1));
  }

  static v1::Date ToDate(absl::Time t) {
    absl::CivilDay d = absl::ToCivilDay(t, absl::UTCTimeZone());
    v1::Date out;
    out.set_year(static_cast<int32_t>(d.year()));
    out.set_month(d.month());
    out.set_day(d.day());
    return out;
  }

  // Records `event` at `when` (dropped when it would lie in the future).
  void Add(absl::Time when, v1::Event event) {
    if (when >= cutoff_ || when < intake_at_) return;
    steps_.push_back({when, std::move(event)});
  }

  v1::Event Intake(v1::Track track, v1::TargetGroup target) {
    v1::Event e;
    v1::Intake* p = e.mutable_intake();
    p->set_track(track);
    p->set_target_group(target);
    p->set_organisation(organisation_);
    p->set_location(kLocations[Uniform(0, kLocations.size() - 1)]);
    p->set_legal_basis("AVG art. 6(1)(e); convenant LVV Amsterdam");
    p->set_team(absl::StrCat("team-", Uniform(1, 3)));
    p->set_referred_by(Pick<const char*>({"vreemdelingenloket", "GGD", "straatadvocaten", "eigen netwerk"}));
    v1::PersonalData* pd = e.mutable_personal_data();
    pd->set_given_names(kGivenNames[Uniform(0, kGivenNames.size() - 1)]);
    pd->set_family_name(kFamilyNames[Uniform(0, kFamilyNames.size() - 1)]);
    *pd->mutable_birth_date() = ToDate(intake_at_ - absl::Hours(24 * 365 * Uniform(19, 60)));
    pd->set_v_number(absl::StrFormat("V%010d", 1'000'000 + index_ * 7));
    std::string country = kCountries[Uniform(0, kCountries.size() - 1)];
    pd->set_nationality(country);
    pd->set_country_of_origin(country);
    return e;
  }

  // A checklist milestone; while the plan has open goals, it also marks the
  // next one reached (behaald).
  v1::Event Milestone(v1::Milestone m, absl::Time at) {
    if (at > revised_at_) {  // the revised plan replaced the goals
      goal_ids_ = {"g-terugkeer"};
      next_goal_ = 0;
      revised_at_ = absl::InfiniteFuture();
    }
    v1::Event e;
    e.mutable_milestone_completed()->set_milestone(m);
    if (m != v1::MILESTONE_SCREENING_DONE && next_goal_ < goal_ids_.size()) {
      e.mutable_milestone_completed()->set_goal_id(goal_ids_[next_goal_++]);
    }
    return e;
  }

  v1::Event Plan(v1::PlanDirection direction, const std::string& begeleider,
                 const std::string& casemanager, absl::Time at) {
    v1::Event e;
    v1::PlanEstablished* p = e.mutable_plan_established();
    p->set_direction(direction);
    static const char* kGoals[] = {"Dossieranalyse afronden", "Documenten verzamelen",
                                   "Gesprek met advocaat", "Terugkeermogelijkheden verkennen",
                                   "Taalcursus volgen", "Medische situatie in kaart brengen"};
    int goals = Uniform(1, 4);
    for (int g = 0; g < goals; ++g) {
      v1::Goal* goal = p->add_goals();
      goal->set_goal_id(absl::StrCat("g", g + 1));
      goal_ids_.push_back(goal->goal_id());
      goal->set_description(kGoals[Uniform(0, 5)]);
      *goal->mutable_deadline() = ToDate(at + Days(60, 300));
    }
    p->add_agreed_by(begeleider);
    p->add_agreed_by(casemanager);
    p->set_client_agreed(true);
    *p->mutable_planned_end() = ToDate(intake_at_ + absl::Hours(24 * 540));
    return e;
  }

  v1::Event Attendance(absl::Time at) {
    v1::Event e;
    v1::AttendanceRegistered* p = e.mutable_attendance_registered();
    p->set_activity(static_cast<v1::Activity>(Uniform(1, 7)));
    *p->mutable_date() = ToDate(at);
    int roll = Uniform(0, 9);
    p->set_attendance(roll < 8   ? v1::ATTENDANCE_PRESENT
                      : roll < 9 ? v1::ATTENDANCE_ABSENT_EXCUSED
                                 : v1::ATTENDANCE_ABSENT_UNEXCUSED);
    return e;
  }

  v1::Event Contact() {
    v1::Event e;
    e.mutable_contact_recorded()->set_kind(static_cast<v1::ContactKind>(Uniform(1, 4)));
    e.mutable_contact_recorded()->set_subject("Voortgang perspectiefplan");
    return e;
  }

  v1::Event Evaluation(absl::Time at) {
    v1::Event e;
    e.mutable_evaluation_recorded()->set_outcome(static_cast<v1::EvaluationOutcome>(Uniform(1, 3)));
    e.mutable_evaluation_recorded()->set_summary("Halfjaarlijkse evaluatie");
    *e.mutable_evaluation_recorded()->mutable_next_evaluation() = ToDate(at + absl::Hours(24 * 90));
    return e;
  }

  v1::Event ReturnAssessment() {
    v1::Event e;
    e.mutable_return_assessment_recorded()->set_return_feasible(Uniform(0, 1) == 0);
    e.mutable_return_assessment_recorded()->add_obstacles("geen reisdocumenten");
    e.mutable_return_assessment_recorded()->set_country(kCountries[Uniform(0, kCountries.size() - 1)]);
    return e;
  }

  void DoHandover(absl::Time at, v1::PlanDirection& direction) {
    handed_over_ = true;
    const std::string consent_id = absl::StrCat("k-", client_id_);
    v1::Event consent;
    consent.mutable_consent_granted()->set_consent_id(consent_id);
    consent.mutable_consent_granted()->add_organisations(kGoedwerk);
    consent.mutable_consent_granted()->set_purpose("overdracht voor toekomstoriëntatie en terugkeer");
    Add(at - absl::Hours(48), consent);
    v1::Event handover;
    v1::Handover* h = handover.mutable_handover();
    h->set_from_organisation(kVluchtelingenwerk);
    h->set_to_organisation(kGoedwerk);
    h->set_to_team("team-toekomst");
    h->set_to_begeleider(absl::StrCat("goedwerk-begeleider-", Uniform(1, 5)));
    h->set_reason("Geen juridisch perspectief; verder met toekomstoriëntatie");
    h->set_consent_reference(consent_id);
    Add(at, handover);
    organisation_ = kGoedwerk;
    if (direction != v1::PLAN_DIRECTION_RETURN && Uniform(0, 1) == 0) {
      direction = v1::PLAN_DIRECTION_RETURN;
      v1::Event revised;
      v1::PlanRevised* p = revised.mutable_plan_revised();
      p->set_direction(direction);
      v1::Goal* goal = p->add_goals();
      goal->set_goal_id("g-terugkeer");
      goal->set_description("Terugkeer voorbereiden met IOM");
      *goal->mutable_deadline() = ToDate(at + Days(90, 200));
      p->set_reason("Overdracht naar Goedwerk; richting terugkeer");
      p->add_agreed_by("goedwerk-casemanager-1");
      Add(at + absl::Hours(24 * 7), revised);
      revised_at_ = at + absl::Hours(24 * 7);
    }
  }

  v1::Event Termination(absl::Time at, absl::Time end_of_term, const std::string& begeleider,
                        const std::string& casemanager) {
    v1::Event e;
    v1::Terminated* p = e.mutable_terminated();
    // Every reason occurs; an expired term is "term expired".
    p->set_reason(at >= end_of_term ? v1::TERMINATION_REASON_TERM_EXPIRED
                                    : static_cast<v1::TerminationReason>(1 + index_ % 9));
    p->set_decided_by_begeleider(begeleider);
    p->set_decided_by_casemanager(casemanager);
    *p->mutable_effective_date() = ToDate(at);
    p->set_explanation("Besloten in casuïstiekoverleg");
    return e;
  }

  std::vector<DemoBatch> Batches() {
    std::stable_sort(steps_.begin(), steps_.end(),
                     [](const Step& a, const Step& b) { return a.when < b.when; });
    // Nothing after a termination (a step added late could sort after it).
    auto term = std::find_if(steps_.begin(), steps_.end(),
                             [](const Step& s) { return s.event.has_terminated(); });
    if (term != steps_.end()) steps_.erase(term + 1, steps_.end());

    // Who sends each step follows from the timeline: the intake's organisation,
    // and after a Handover the receiving one.
    std::vector<DemoBatch> batches;
    uint64_t version = 0;
    int n = 0;
    std::string holder = steps_.front().event.intake().organisation();
    for (Step& step : steps_) {
      if (batches.empty() || batches.back().identity != holder) {
        batches.push_back({holder, client_id_, version, {}});
      }
      if (step.event.has_handover()) holder = step.event.handover().to_organisation();
      v1::EventEnvelope* env = step.event.mutable_envelope();
      env->set_event_id(absl::StrCat(id_prefix_, ++n));
      env->mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(step.when));
      env->set_correlation_id(absl::StrCat("demo-", client_id_));
      batches.back().events.push_back(std::move(step.event));
      ++version;
    }
    return batches;
  }

  struct Step {
    absl::Time when;
    v1::Event event;
  };

  const int index_;
  std::mt19937 rng_;
  std::vector<std::string> goal_ids_;  // the current plan's goals, in order
  size_t next_goal_ = 0;               // goal_ids_[next_goal_] is the next to be reached
  absl::Time revised_at_ = absl::InfiniteFuture();  // when a pending revision takes effect
  const absl::Time today_;
  const absl::Time cutoff_;
  const std::string client_id_;
  const std::string id_prefix_;
  std::string organisation_;
  absl::Time intake_at_;
  bool handed_over_ = false;
  bool evaluated_ = false;
  bool assessed_ = false;
  std::vector<Step> steps_;
};

}  // namespace

std::vector<DemoBatch> GenerateDemoCaseload(const DemoOptions& options) {
  std::vector<DemoBatch> out;
  for (int i = 0; i < options.clients; ++i) {
    std::vector<DemoBatch> client = ClientScript(i, options).Generate();
    for (DemoBatch& b : client) out.push_back(std::move(b));
  }
  return out;
}

}  // namespace caseledger::tools
