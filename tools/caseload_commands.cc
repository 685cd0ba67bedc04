#include "tools/caseload_commands.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "caseledger/v1/admin_service.grpc.pb.h"
#include "caseledger/v1/caseload_service.grpc.pb.h"
#include "tools/cli_util.h"

namespace caseledger::tools {
namespace {

// ---- Words (the labels case managers and the municipality use) ----

const std::map<int, std::string>& TrackLabels() {
  static const auto* m = new std::map<int, std::string>{
      {v1::TRACK_LEGAL, "juridisch"},
      {v1::TRACK_FUTURE_ORIENTATION, "toekomstoriëntatie"},
      {v1::TRACK_RETURN, "terugkeer"},
      {v1::TRACK_SOCIAL, "maatschappelijk"}};
  return *m;
}
const std::map<int, std::string>& PhaseLabels() {
  static const auto* m = new std::map<int, std::string>{
      {v1::PHASE_INTAKE, "intake"},     {v1::PHASE_SCREENED, "gescreend"}, {v1::PHASE_PLAN, "plan"},
      {v1::PHASE_CLOSING, "afronding"}, {v1::PHASE_ENDED, "beëindigd"}};
  return *m;
}
const std::map<int, std::string>& StatusLabels() {
  static const auto* m = new std::map<int, std::string>{{v1::CASE_STATUS_ACTIVE, "lopend"},
                                                        {v1::CASE_STATUS_TERMINATED, "beëindigd"},
                                                        {v1::CASE_STATUS_ERASED, "gewist"}};
  return *m;
}
const std::map<int, std::string>& SignalLabels() {
  static const auto* m = new std::map<int, std::string>{
      {v1::SIGNAL_NO_PLAN, "geen-plan"},
      {v1::SIGNAL_EVALUATION_DUE, "evaluatie-binnenkort"},
      {v1::SIGNAL_EVALUATION_OVERDUE, "evaluatie-te-laat"},
      {v1::SIGNAL_TERM_EXPIRING, "termijn-verloopt"},
      {v1::SIGNAL_TERM_EXPIRED, "termijn-verlopen"},
      {v1::SIGNAL_NO_EXIT_CONVERSATION, "geen-eindgesprek"},
      {v1::SIGNAL_NO_CONTACT, "geen-contact"},
      {v1::SIGNAL_GOAL_OVERDUE, "doel-te-laat"},
      {v1::SIGNAL_BEGELEIDER_OVERLOADED, "begeleider-overbelast"},
      {v1::SIGNAL_TRACK_OVER_MAXIMUM, "traject-boven-maximum"}};
  return *m;
}
const std::map<int, std::string>& ReasonLabels() {
  static const auto* m = new std::map<int, std::string>{
      {v1::TERMINATION_REASON_GOALS_REACHED, "doelen behaald"},
      {v1::TERMINATION_REASON_TERM_EXPIRED, "termijn verstreken"},
      {v1::TERMINATION_REASON_NO_COOPERATION, "geen medewerking"},
      {v1::TERMINATION_REASON_NEW_PROCEDURE, "nieuwe procedure"},
      {v1::TERMINATION_REASON_RETURNED, "terugkeer"},
      {v1::TERMINATION_REASON_ONWARD_MIGRATION, "doormigratie"},
      {v1::TERMINATION_REASON_LEFT_UNKNOWN, "vertrokken, onbekend waarheen"},
      {v1::TERMINATION_REASON_PERMIT_GRANTED, "verblijfsvergunning verleend"},
      {v1::TERMINATION_REASON_DECEASED, "overleden"}};
  return *m;
}
const std::map<int, std::string>& MomentLabels() {
  static const auto* m = new std::map<int, std::string>{{v1::REPORT_MOMENT_START, "start"},
                                                        {v1::REPORT_MOMENT_PLAN, "plan"},
                                                        {v1::REPORT_MOMENT_CHANGE, "wijziging"},
                                                        {v1::REPORT_MOMENT_HALF_YEAR, "halfjaar"},
                                                        {v1::REPORT_MOMENT_END, "einde"}};
  return *m;
}
const std::map<int, std::string>& DirectionLabels() {
  static const auto* m = new std::map<int, std::string>{{v1::PLAN_DIRECTION_NETHERLANDS, "Nederland"},
                                                        {v1::PLAN_DIRECTION_RETURN, "terugkeer"},
                                                        {v1::PLAN_DIRECTION_THIRD_COUNTRY, "derde land"}};
  return *m;
}
const std::map<int, std::string>& MilestoneLabels() {
  static const auto* m = new std::map<int, std::string>{
      {v1::MILESTONE_SCREENING_DONE, "screening afgerond"},
      {v1::MILESTONE_VVA_TAKEN, "VVA afgenomen"},
      {v1::MILESTONE_DOSSIER_ANALYSIS, "dossieranalyse"},
      {v1::MILESTONE_PERSPECTIVE_ANALYSIS, "perspectiefanalyse"},
      {v1::MILESTONE_DOCUMENTS_DELIVERED, "documenten aangeleverd"},
      {v1::MILESTONE_LAWYER_ENGAGED, "advocaat ingeschakeld"},
      {v1::MILESTONE_APPLICATION_SUBMITTED, "aanvraag ingediend"},
      {v1::MILESTONE_IDENTITY_DOCUMENTS, "identiteitsdocumenten"},
      {v1::MILESTONE_RETURN_OBSTACLES_REMOVED, "belemmeringen terugkeer weg"},
      {v1::MILESTONE_IOM_REGISTERED, "aangemeld bij IOM"},
      {v1::MILESTONE_REINTEGRATION_PLAN, "herintegratieplan"},
      {v1::MILESTONE_MEDICAL_SCREENING, "medische screening"}};
  return *m;
}

std::string Label(const std::map<int, std::string>& labels, int value) {
  auto it = labels.find(value);
  return it == labels.end() ? (value == 0 ? "-" : absl::StrCat("?", value)) : it->second;
}

// A CSV-friendly slug of a label: "doelen behaald" -> "doelen_behaald".
std::string Slug(std::string label) {
  label = absl::StrReplaceAll(label, {{"ë", "e"}, {"ï", "i"}, {",", ""}, {" ", "_"}, {"-", "_"}});
  return label;
}

// Parses `text` as one of `labels` (Dutch, as printed; '-' or '_' alike) or
// as the proto enum name with or without `prefix` ("legal", "TRACK_LEGAL").
absl::StatusOr<int> ParseEnum(const std::string& text, const std::map<int, std::string>& labels,
                              const google::protobuf::EnumDescriptor* descriptor,
                              const std::string& prefix, const std::string& option) {
  if (text.empty()) return 0;
  auto norm = [](std::string s) {
    s = absl::AsciiStrToLower(s);
    return absl::StrReplaceAll(s, {{"-", "_"}, {" ", "_"}, {"ë", "e"}, {"ï", "i"}});
  };
  const std::string wanted = norm(text);
  for (const auto& [value, label] : labels) {
    if (norm(label) == wanted) return value;
  }
  std::string upper = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  for (const std::string& name : {upper, prefix + upper}) {
    if (const auto* v = descriptor->FindValueByName(name); v != nullptr && v->number() != 0) {
      return v->number();
    }
  }
  std::vector<std::string> choices;
  for (const auto& [value, label] : labels) choices.push_back(label);
  return absl::InvalidArgumentError(absl::StrCat(option, " '", text, "' is unknown; use one of: ",
                                                 absl::StrJoin(choices, ", ")));
}

absl::StatusOr<absl::CivilDay> ParseDay(const std::string& text, const std::string& option) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " '", text, "' is not a date; write it as YYYY-MM-DD, e.g. 2026-07-01"));
  }
  return day;
}

v1::Date ToDate(absl::CivilDay day) {
  v1::Date d;
  d.set_year(static_cast<int32_t>(day.year()));
  d.set_month(day.month());
  d.set_day(day.day());
  return d;
}

std::string DateText(const v1::Date& d) {
  if (d.year() == 0) return "-";
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

// ---- Output ----

// Display width of UTF-8 text: its code points.
size_t Width(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// A plain-text table, columns as wide as their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t size() const { return rows_.size() - 1; }
  void Print(std::ostream& out) const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], Width(row[i]));
    }
    for (const auto& row : rows_) {
      if (std::all_of(row.begin(), row.end(), [](const std::string& c) { return c.empty(); })) continue;
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - Width(row[i]) + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

void PrintCsvRow(const std::vector<std::string>& row) {
  std::vector<std::string> fields;
  for (const auto& f : row) fields.push_back(CsvField(f));
  std::cout << absl::StrJoin(fields, ",") << "\n";
}

std::string SignalList(const v1::CaseView& c) {
  std::vector<std::string> names;
  for (const auto& s : c.signals()) names.push_back(Label(SignalLabels(), s.kind()));
  return names.empty() ? "-" : absl::StrJoin(names, ",");
}

}  // namespace

CaseloadCommands::CaseloadCommands(CLI::App& app) {
  auto add_filters = [this](CLI::App* cmd, bool case_filters) {
    cmd->add_option("--org", organisation_, "organisation (a partner always sees its own)");
    cmd->add_option("--begeleider", begeleider_, "only this begeleider's cases");
    if (case_filters) {
      cmd->add_option("--casemanager", casemanager_, "only this casemanager's cases");
      cmd->add_option("--traject,--track", track_,
                      "juridisch, toekomstoriëntatie, terugkeer or maatschappelijk");
      cmd->add_option("--fase,--phase", phase_, "intake, gescreend, plan, afronding or beëindigd");
      cmd->add_option("--status", status_, "lopend, beëindigd or gewist");
      cmd->add_option("--signaal,--signal", signal_,
                      "only cases with this signal, e.g. geen-plan, evaluatie-te-laat, geen-contact");
    }
  };

  caseload_ = app.add_subcommand("caseload", "list the caseload (partner or auditor role); filters combine");
  add_filters(caseload_, true);
  caseload_->add_option("--page-size", page_size_, "cases per request (1..500)")->capture_default_str();
  caseload_->add_option("--limit", limit_, "show at most this many cases (0 = all)");

  case_ = app.add_subcommand("case", "show one client's case; --as-of shows it as it stood then");
  case_->add_option("client", client_, "client id, e.g. c-100001")->required();
  case_->add_option("--as-of", as_of_,
                    "a date (YYYY-MM-DD: the end of that day) or a moment (2026-05-01T12:00:00Z)");
  case_->add_option("--purpose", purpose_, "why you look (recorded in the access log)")->capture_default_str();

  signals_ = app.add_subcommand("signals", "the signals (soft rules) of an organisation or begeleider");
  add_filters(signals_, false);

  report_ = app.add_subcommand("report", "reports for Regie & Organisatie (municipality, partner or auditor)");
  report_->require_subcommand(1);
  quarterly_ = report_->add_subcommand("quarterly", "the quarterly report of one organisation and track");
  quarterly_->add_option("quarter", quarter_, "e.g. 2026Q3")->required();
  quarterly_->add_option("--org", organisation_, "organisation (required for the municipality)");
  quarterly_->add_option("--traject,--track", track_, "juridisch, toekomstoriëntatie, terugkeer or maatschappelijk")
      ->required();
  quarterly_->add_flag("--csv", csv_, "print CSV (a header and one row)");
  moments_ = report_->add_subcommand("moments", "the report moments per client (start, plan, wijziging, halfjaar, einde)");
  moments_->add_option("--org", organisation_, "organisation (a partner always gets its own)");
  moments_->add_option("--traject,--track", track_, "only this track");
  moments_->add_option("--from", from_, "first day, YYYY-MM-DD");
  moments_->add_option("--to", to_, "last day, YYYY-MM-DD");
  moments_->add_flag("--csv", csv_, "print CSV");

  projections_ = app.add_subcommand("projections", "list the projections with their position and lag (admin role)");
  rebuild_ = app.add_subcommand("rebuild", "rebuild a projection from the log (admin role); default: all");
  rebuild_->add_option("name", projection_name_, "projection name, e.g. caseload");
}

std::optional<int> CaseloadCommands::Run(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& user, bool json) {
  if (caseload_->parsed()) return RunCaseload(channel, user, json);
  if (case_->parsed()) return RunCase(channel, user, json);
  if (signals_->parsed()) return RunSignals(channel, user, json);
  if (quarterly_->parsed()) return RunQuarterly(channel, user, json);
  if (moments_->parsed()) return RunMoments(channel, user, json);
  if (projections_->parsed()) return RunProjections(channel, user, json);
  if (rebuild_->parsed()) return RunRebuild(channel, user, json);
  return std::nullopt;
}

int CaseloadCommands::RunCaseload(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                  bool json) {
  v1::ListCasesRequest req;
  req.set_organisation(organisation_);
  req.set_begeleider(begeleider_);
  req.set_casemanager(casemanager_);
  auto track = ParseEnum(track_, TrackLabels(), v1::Track_descriptor(), "TRACK_", "--traject");
  auto phase = ParseEnum(phase_, PhaseLabels(), v1::Phase_descriptor(), "PHASE_", "--fase");
  auto status = ParseEnum(status_, StatusLabels(), v1::CaseStatus_descriptor(), "CASE_STATUS_", "--status");
  auto signal = ParseEnum(signal_, SignalLabels(), v1::SignalKind_descriptor(), "SIGNAL_", "--signaal");
  for (const auto* parsed : {&track, &phase, &status, &signal}) {
    if (!parsed->ok()) return Fail(parsed->status());
  }
  req.set_track(static_cast<v1::Track>(*track));
  req.set_phase(static_cast<v1::Phase>(*phase));
  req.set_status(static_cast<v1::CaseStatus>(*status));
  req.set_signal(static_cast<v1::SignalKind>(*signal));
  req.set_page_size(page_size_);

  auto stub = v1::CaseloadService::NewStub(channel);
  Table table({"cliënt", "organisatie", "begeleider", "traject", "fase", "status", "intake", "dagen",
               "doelen", "checklist", "laatste contact", "aanw/afw", "volgende deadline", "signalen"});
  int shown = 0;
  uint64_t position = 0;
  for (;;) {
    v1::ListCasesResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub->ListCases(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    position = resp.projection_position();
    for (const v1::CaseView& c : resp.cases()) {
      if (limit_ > 0 && shown >= limit_) break;
      ++shown;
      if (json) {
        std::cout << ToJson(c) << "\n";
        continue;
      }
      std::string deadline = DateText(c.next_deadline());
      if (!c.next_deadline_what().empty()) absl::StrAppend(&deadline, " (", c.next_deadline_what(), ")");
      table.Add({c.client_id(), c.organisation(), c.begeleider().empty() ? "-" : c.begeleider(),
                 Label(TrackLabels(), c.track()), Label(PhaseLabels(), c.phase()),
                 Label(StatusLabels(), c.status()), DateText(c.intake_date()),
                 absl::StrCat(c.days_in_trajectory()), absl::StrCat(c.goals_done(), "/", c.goals_total()),
                 absl::StrCat(c.milestones_done(), "/", c.milestones_expected()), DateText(c.last_contact()),
                 absl::StrCat(c.attendance_present(), "/", c.attendance_absent()), deadline, SignalList(c)});
    }
    if (resp.next_page_token().empty() || (limit_ > 0 && shown >= limit_)) break;
    req.set_page_token(resp.next_page_token());
  }
  if (!json) {
    table.Print(std::cout);
    std::cout << shown << " cases (dossiers), bijgewerkt t/m logpositie " << position << "\n";
  }
  return 0;
}

int CaseloadCommands::RunCase(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                              bool json) {
  v1::GetCaseRequest req;
  req.set_client_id(client_);
  req.set_purpose(purpose_);
  if (!as_of_.empty()) {
    absl::Time at;
    std::string err;
    absl::CivilDay day;
    if (absl::ParseCivilTime(as_of_, &day)) {
      at = std::min(absl::FromCivil(day + 1, absl::UTCTimeZone()) - absl::Seconds(1), absl::Now());
    } else if (!absl::ParseTime(absl::RFC3339_full, as_of_, &at, &err)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--as-of '", as_of_, "' is neither a date (YYYY-MM-DD) nor a moment (2026-05-01T12:00:00Z)")));
    }
    req.mutable_as_of()->set_seconds(absl::ToUnixSeconds(at));
  }
  auto stub = v1::CaseloadService::NewStub(channel);
  v1::GetCaseResponse resp;
  auto ctx = NewContext(user);
  grpc::Status s = stub->GetCase(ctx.get(), req, &resp);
  if (!s.ok()) return Fail(s);
  if (json) {
    std::cout << ToJson(resp) << "\n";
    return 0;
  }
  const v1::CaseView& c = resp.case_();
  auto line = [](const std::string& key, const std::string& value) {
    std::cout << key << std::string(Width(key) < 20 ? 20 - Width(key) : 1, ' ') << value << "\n";
  };
  line("cliënt", absl::StrCat(c.client_id(), "  (versie ", c.version(), ")"));
  line("organisatie", c.team().empty() ? c.organisation() : absl::StrCat(c.organisation(), " / ", c.team()));
  line("begeleider", c.begeleider().empty() ? "-" : c.begeleider());
  line("casemanager", c.casemanager().empty() ? "-" : c.casemanager());
  line("traject", Label(TrackLabels(), c.track()));
  line("fase / status", absl::StrCat(Label(PhaseLabels(), c.phase()), " / ", Label(StatusLabels(), c.status())));
  line("intake", absl::StrCat(DateText(c.intake_date()), "  (", c.days_in_trajectory(), " dagen in traject)"));
  if (c.end_date().year() != 0) {
    line("beëindigd", absl::StrCat(DateText(c.end_date()), "  (", Label(ReasonLabels(), c.termination_reason()), ")"));
  } else {
    line("geplande einde", DateText(c.planned_end()));
  }
  line("perspectief", Label(DirectionLabels(), c.plan_direction()));
  line("doelen", absl::StrCat(c.goals_done(), "/", c.goals_total(), " behaald"));
  for (const v1::GoalView& g : c.goals()) {
    std::cout << "  [" << (g.done() ? "x" : " ") << "] " << g.goal_id() << "  " << g.description()
              << "  (uiterlijk " << DateText(g.deadline()) << ")\n";
  }
  std::vector<std::string> ticked;
  for (int m : c.milestones()) ticked.push_back(Label(MilestoneLabels(), m));
  line("checklist", absl::StrCat(c.milestones_done(), "/", c.milestones_expected(), " mijlpalen van het traject"));
  if (!ticked.empty()) line("afgevinkt", absl::StrJoin(ticked, ", "));
  line("laatste contact", DateText(c.last_contact()));
  line("aanwezigheid", absl::StrCat(c.attendance_present(), " aanwezig, ", c.attendance_absent(), " afwezig"));
  line("overdrachten", absl::StrCat(c.handovers()));
  line("volgende evaluatie", DateText(c.next_evaluation()));
  line("volgende deadline", c.next_deadline().year() == 0
                                ? "-"
                                : absl::StrCat(DateText(c.next_deadline()), " (", c.next_deadline_what(), ")"));
  line("signalen", c.signals().empty() ? "geen" : "");
  for (const v1::Signal& sig : c.signals()) std::cout << "  - " << sig.message() << "\n";
  line("stand per", absl::StrCat(FormatTimestamp(resp.as_of()), " UTC"));
  return 0;
}

int CaseloadCommands::RunSignals(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                 bool json) {
  v1::ListSignalsRequest req;
  req.set_organisation(organisation_);
  req.set_begeleider(begeleider_);
  auto stub = v1::CaseloadService::NewStub(channel);
  v1::ListSignalsResponse resp;
  auto ctx = NewContext(user);
  grpc::Status s = stub->ListSignals(ctx.get(), req, &resp);
  if (!s.ok()) return Fail(s);
  if (json) {
    for (const v1::Signal& sig : resp.signals()) std::cout << ToJson(sig) << "\n";
    return 0;
  }
  Table table({"signaal", "cliënt", "organisatie", "begeleider", "traject", "datum", "melding"});
  for (const v1::Signal& sig : resp.signals()) {
    table.Add({Label(SignalLabels(), sig.kind()), sig.client_id().empty() ? "-" : sig.client_id(),
               sig.organisation(), sig.begeleider().empty() ? "-" : sig.begeleider(),
               Label(TrackLabels(), sig.track()), DateText(sig.due()), sig.message()});
  }
  table.Print(std::cout);
  std::cout << table.size() << " signalen, berekend op " << FormatTimestamp(resp.computed_at()) << " UTC\n";
  return 0;
}

int CaseloadCommands::RunQuarterly(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                   bool json) {
  auto track = ParseEnum(track_, TrackLabels(), v1::Track_descriptor(), "TRACK_", "--traject");
  if (!track.ok()) return Fail(track.status());
  v1::GetQuarterlyReportRequest req;
  req.set_organisation(organisation_);
  req.set_track(static_cast<v1::Track>(*track));
  req.set_quarter(quarter_);
  auto stub = v1::CaseloadService::NewStub(channel);
  v1::QuarterlyReport r;
  auto ctx = NewContext(user, 120);
  grpc::Status s = stub->GetQuarterlyReport(ctx.get(), req, &r);
  if (!s.ok()) return Fail(s);
  if (json) {
    std::cout << ToJson(r) << "\n";
    return 0;
  }
  std::map<int, int> by_reason;
  for (const auto& t : r.outflow_by_reason()) by_reason[t.reason()] = t.count();
  if (csv_) {
    std::vector<std::string> header = {"organisatie", "traject", "kwartaal", "eerste_dag", "laatste_dag",
                                       "instroom", "uitstroom"};
    std::vector<std::string> row = {r.organisation(), Slug(Label(TrackLabels(), r.track())), r.quarter(),
                                    DateText(r.first_day()), DateText(r.last_day()),
                                    absl::StrCat(r.inflow()), absl::StrCat(r.outflow())};
    for (const auto& [reason, label] : ReasonLabels()) {
      header.push_back("uitstroom_" + Slug(label));
      row.push_back(absl::StrCat(by_reason[reason]));
    }
    for (const auto& [name, value] :
         std::vector<std::pair<std::string, int64_t>>{{"lopend_einde_kwartaal", r.active_at_end()},
                                                      {"gefinancierd_minimum", r.funded_minimum()},
                                                      {"gefinancierd_maximum", r.funded_maximum()},
                                                      {"plannen_vastgesteld", r.plans_established()},
                                                      {"plannen_binnen_termijn", r.plans_within_term()},
                                                      {"termijn_weken", r.plan_term_weeks()},
                                                      {"evaluaties", r.evaluations()},
                                                      {"evaluaties_op_tijd", r.evaluations_on_time()},
                                                      {"aanwezig", r.attendance_present()},
                                                      {"afwezig_met_bericht", r.attendance_absent_excused()},
                                                      {"afwezig_zonder_bericht", r.attendance_absent_unexcused()},
                                                      {"logpositie", static_cast<int64_t>(r.projection_position())}}) {
      header.push_back(name);
      row.push_back(absl::StrCat(value));
    }
    PrintCsvRow(header);
    PrintCsvRow(row);
    return 0;
  }
  std::cout << "Kwartaalrapportage " << r.quarter() << " — " << r.organisation() << ", traject "
            << Label(TrackLabels(), r.track()) << " (" << DateText(r.first_day()) << " t/m "
            << DateText(r.last_day()) << ")\n\n";
  Table t({"", ""});  // no header row: a list of figures
  t.Add({"instroom (intakes)", absl::StrCat(r.inflow())});
  t.Add({"uitstroom (beëindigd)", absl::StrCat(r.outflow())});
  for (const auto& [reason, count] : by_reason) t.Add({"  " + Label(ReasonLabels(), reason), absl::StrCat(count)});
  t.Add({"lopend op de laatste dag", absl::StrCat(r.active_at_end(), "  (gefinancierd ", r.funded_minimum(), "–",
                                                  r.funded_maximum(), ")")});
  t.Add({"perspectiefplannen vastgesteld",
         absl::StrCat(r.plans_established(), ", waarvan ", r.plans_within_term(), " binnen ", r.plan_term_weeks(),
                      " weken na de intake")});
  t.Add({"evaluaties", absl::StrCat(r.evaluations(), ", waarvan ", r.evaluations_on_time(), " op tijd")});
  t.Add({"aanwezigheid", absl::StrCat(r.attendance_present(), " aanwezig, ", r.attendance_absent_excused(),
                                      " afwezig met bericht, ", r.attendance_absent_unexcused(),
                                      " zonder bericht")});
  t.Add({"bijgewerkt t/m logpositie", absl::StrCat(r.projection_position())});
  t.Print(std::cout);
  return 0;
}

int CaseloadCommands::RunMoments(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                 bool json) {
  v1::ListReportMomentsRequest req;
  req.set_organisation(organisation_);
  auto track = ParseEnum(track_, TrackLabels(), v1::Track_descriptor(), "TRACK_", "--traject");
  if (!track.ok()) return Fail(track.status());
  req.set_track(static_cast<v1::Track>(*track));
  for (const auto& [text, field, option] : {std::make_tuple(&from_, req.mutable_from(), "--from"),
                                            std::make_tuple(&to_, req.mutable_to(), "--to")}) {
    if (text->empty()) continue;
    auto day = ParseDay(*text, option);
    if (!day.ok()) return Fail(day.status());
    *field = ToDate(*day);
  }
  auto stub = v1::CaseloadService::NewStub(channel);
  v1::ListReportMomentsResponse resp;
  auto ctx = NewContext(user, 120);
  grpc::Status s = stub->ListReportMoments(ctx.get(), req, &resp);
  if (!s.ok()) return Fail(s);
  if (json) {
    for (const auto& m : resp.moments()) std::cout << ToJson(m) << "\n";
    return 0;
  }
  const std::vector<std::string> header = {"datum", "moment", "cliënt", "organisatie", "traject",
                                           "perspectief", "doelen", "reden einde", "toelichting"};
  auto row = [](const v1::ReportMoment& m) {
    return std::vector<std::string>{DateText(m.date()), Label(MomentLabels(), m.kind()), m.client_id(),
                                    m.organisation(), Label(TrackLabels(), m.track()),
                                    Label(DirectionLabels(), m.plan_direction()),
                                    absl::StrCat(m.goals_done(), "/", m.goals_total()),
                                    Label(ReasonLabels(), m.termination_reason()), m.detail()};
  };
  if (csv_) {
    PrintCsvRow(header);
    for (const auto& m : resp.moments()) PrintCsvRow(row(m));
    return 0;
  }
  Table table(header);
  for (const auto& m : resp.moments()) table.Add(row(m));
  table.Print(std::cout);
  std::cout << table.size() << " rapportagemomenten\n";
  return 0;
}

int CaseloadCommands::RunProjections(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                     bool json) {
  auto stub = v1::AdminService::NewStub(channel);
  v1::ListProjectionsResponse resp;
  auto ctx = NewContext(user);
  grpc::Status s = stub->ListProjections(ctx.get(), v1::ListProjectionsRequest(), &resp);
  if (!s.ok()) return Fail(s);
  if (json) {
    for (const auto& p : resp.projections()) std::cout << ToJson(p) << "\n";
    return 0;
  }
  Table table({"projectie", "positie", "achterstand", "status"});
  for (const auto& p : resp.projections()) {
    table.Add({p.name(), absl::StrCat(p.checkpoint()), absl::StrCat(p.lag()), p.health()});
  }
  table.Print(std::cout);
  return 0;
}

int CaseloadCommands::RunRebuild(const std::shared_ptr<grpc::Channel>& channel, const std::string& user,
                                 bool json) {
  auto stub = v1::AdminService::NewStub(channel);
  std::vector<std::string> names;
  if (!projection_name_.empty()) {
    names.push_back(projection_name_);
  } else {
    v1::ListProjectionsResponse resp;
    auto ctx = NewContext(user);
    grpc::Status s = stub->ListProjections(ctx.get(), v1::ListProjectionsRequest(), &resp);
    if (!s.ok()) return Fail(s);
    for (const auto& p : resp.projections()) names.push_back(p.name());
  }
  for (const std::string& name : names) {
    if (!json) std::cerr << "herbouw (rebuild) " << name << ": bezig…\n";
    v1::RebuildProjectionRequest req;
    req.set_name(name);
    v1::ProjectionInfo info;
    auto ctx = NewContext(user, /*seconds=*/0);  // a large log takes time
    grpc::Status s = stub->RebuildProjection(ctx.get(), req, &info);
    if (!s.ok()) return Fail(s);
    if (json) {
      std::cout << ToJson(info) << "\n";
    } else {
      const double rate = info.rebuild_seconds() > 0 ? info.events_applied() / info.rebuild_seconds() : 0;
      std::cout << absl::StrFormat("herbouwd (rebuilt) %s: %d gebeurtenissen in %.2f s (%.0f per s), achterstand %d\n",
                                   info.name(), info.events_applied(), info.rebuild_seconds(), rate, info.lag());
    }
  }
  return 0;
}

}  // namespace caseledger::tools
