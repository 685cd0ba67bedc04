#include "services/subject_export_html.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace caseledger::services {
namespace {

// A phrase in Dutch and English.
struct Words {
  const char* nl;
  const char* en;
};

class Doc {
 public:
  explicit Doc(bool en) : en_(en) {}
  const char* W(Words w) const { return en_ ? w.en : w.nl; }
  bool en() const { return en_; }
  std::string& out() { return out_; }

 private:
  bool en_;
  std::string out_;
};

std::string DateText(const v1::Date& d) {
  if (d.year() == 0) return "-";
  return absl::StrFormat("%02d-%02d-%04d", d.day(), d.month(), d.year());
}

std::string TimeText(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%d-%m-%Y %H:%M UTC", absl::FromUnixSeconds(ts.seconds()), absl::UTCTimeZone());
}

std::string DayText(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%d-%m-%Y", absl::FromUnixSeconds(ts.seconds()), absl::UTCTimeZone());
}

const char* TrackWord(const Doc& d, int t) {
  switch (t) {
    case v1::TRACK_LEGAL: return d.W({"juridische begeleiding", "legal guidance"});
    case v1::TRACK_FUTURE_ORIENTATION: return d.W({"toekomstoriëntatie", "future orientation"});
    case v1::TRACK_RETURN: return d.W({"terugkeerbegeleiding", "guidance towards return"});
    case v1::TRACK_SOCIAL: return d.W({"maatschappelijke begeleiding", "social guidance"});
  }
  return "-";
}

const char* DirectionWord(const Doc& d, int p) {
  switch (p) {
    case v1::PLAN_DIRECTION_NETHERLANDS: return d.W({"een toekomst in Nederland", "a future in the Netherlands"});
    case v1::PLAN_DIRECTION_RETURN: return d.W({"terugkeer naar het land van herkomst", "return to the country of origin"});
    case v1::PLAN_DIRECTION_THIRD_COUNTRY: return d.W({"vertrek naar een ander land", "moving on to another country"});
  }
  return "-";
}

const char* ReasonWord(const Doc& d, int r) {
  switch (r) {
    case v1::TERMINATION_REASON_GOALS_REACHED: return d.W({"de doelen zijn bereikt", "the goals were reached"});
    case v1::TERMINATION_REASON_TERM_EXPIRED: return d.W({"de termijn is verstreken", "the term expired"});
    case v1::TERMINATION_REASON_NO_COOPERATION: return d.W({"geen medewerking", "no cooperation"});
    case v1::TERMINATION_REASON_NEW_PROCEDURE: return d.W({"een nieuwe procedure is gestart", "a new procedure started"});
    case v1::TERMINATION_REASON_RETURNED: return d.W({"terugkeer naar het land van herkomst", "return to the country of origin"});
    case v1::TERMINATION_REASON_ONWARD_MIGRATION: return d.W({"doormigratie", "onward migration"});
    case v1::TERMINATION_REASON_LEFT_UNKNOWN: return d.W({"vertrokken met onbekende bestemming", "left, destination unknown"});
    case v1::TERMINATION_REASON_PERMIT_GRANTED: return d.W({"een verblijfsvergunning is verleend", "a residence permit was granted"});
    case v1::TERMINATION_REASON_DECEASED: return d.W({"overlijden", "death"});
  }
  return "-";
}

const char* ActivityWord(const Doc& d, int a) {
  switch (a) {
    case v1::ACTIVITY_TRAINING: return d.W({"training", "training"});
    case v1::ACTIVITY_PSYCHOLOGIST: return d.W({"gesprek met de psycholoog", "session with the psychologist"});
    case v1::ACTIVITY_INFORMATION_MEETING: return d.W({"informatiebijeenkomst", "information meeting"});
    case v1::ACTIVITY_CONVERSATION: return d.W({"gesprek met uw begeleider", "meeting with your counsellor"});
    case v1::ACTIVITY_ORIENTATION_TALK: return d.W({"oriëntatiegesprek", "orientation talk"});
    case v1::ACTIVITY_CHAIN_PARTNER_APPOINTMENT:
      return d.W({"afspraak bij een ketenpartner (zoals IND, IOM, GGD of advocaat)",
                  "appointment with a partner agency (such as IND, IOM, GGD or a lawyer)"});
    case v1::ACTIVITY_DAYTIME_ACTIVITY: return d.W({"dagbesteding", "daytime activity"});
  }
  return d.W({"activiteit", "activity"});
}

const char* AttendanceWord(const Doc& d, int a) {
  switch (a) {
    case v1::ATTENDANCE_PRESENT: return d.W({"aanwezig", "present"});
    case v1::ATTENDANCE_ABSENT_EXCUSED: return d.W({"afwezig met bericht", "absent, with notice"});
    case v1::ATTENDANCE_ABSENT_UNEXCUSED: return d.W({"afwezig zonder bericht", "absent, without notice"});
  }
  return "-";
}

// What happened, in one plain sentence.
std::string Describe(const Doc& d, const v1::Event& e) {
  const std::string org = HtmlEscape(e.envelope().organisation());
  switch (e.payload_case()) {
    case v1::Event::kIntake:
      return absl::StrCat(d.W({"U bent aangemeld bij ", "You were registered with "}),
                          HtmlEscape(e.intake().organisation()), d.W({" voor ", " for "}),
                          TrackWord(d, e.intake().track()), ".");
    case v1::Event::kScreeningCompleted:
      return d.W({"Uw situatie is in kaart gebracht (screening).", "Your situation was assessed (screening)."});
    case v1::Event::kCaseworkerAssigned:
      return absl::StrCat(d.W({"U kreeg een begeleider (", "A counsellor was assigned to you ("}),
                          HtmlEscape(e.caseworker_assigned().begeleider()), ").");
    case v1::Event::kPlanEstablished:
      return absl::StrCat(d.W({"Uw perspectiefplan is vastgesteld, gericht op ", "Your plan was agreed, aiming at "}),
                          DirectionWord(d, e.plan_established().direction()), ", ",
                          e.plan_established().goals_size(), d.W({" doel(en).", " goal(s)."}));
    case v1::Event::kPlanRevised:
      return absl::StrCat(d.W({"Uw perspectiefplan is gewijzigd, nu gericht op ", "Your plan was changed, now aiming at "}),
                          DirectionWord(d, e.plan_revised().direction()), ". ",
                          d.W({"Reden: ", "Reason: "}), HtmlEscape(e.plan_revised().reason()));
    case v1::Event::kHandover:
      return absl::StrCat(d.W({"Uw begeleiding is overgedragen van ", "Your guidance was handed over from "}),
                          HtmlEscape(e.handover().from_organisation()), d.W({" aan ", " to "}),
                          HtmlEscape(e.handover().to_organisation()), d.W({", met uw toestemming.", ", with your consent."}));
    case v1::Event::kAttendanceRegistered:
      return absl::StrCat(ActivityWord(d, e.attendance_registered().activity()), " ",
                          DateText(e.attendance_registered().date()), ": ",
                          AttendanceWord(d, e.attendance_registered().attendance()), ".");
    case v1::Event::kMilestoneCompleted:
      return e.milestone_completed().goal_id().empty()
                 ? d.W({"Een stap in uw traject is afgerond.", "A step of your guidance was completed."})
                 : absl::StrCat(d.W({"Een doel van uw plan is bereikt (", "A goal of your plan was reached ("}),
                                HtmlEscape(e.milestone_completed().goal_id()), ").");
    case v1::Event::kContactRecorded:
      return d.W({"Er was contact met uw begeleider.", "You were in contact with your counsellor."});
    case v1::Event::kEvaluationRecorded:
      return d.W({"Uw traject is geëvalueerd.", "Your guidance was evaluated."});
    case v1::Event::kExitConversationHeld:
      return d.W({"Er was een gesprek over hoe het na de begeleiding verder gaat.",
                  "You had a conversation about what happens after the guidance."});
    case v1::Event::kReturnAssessmentRecorded:
      return d.W({"De mogelijkheden voor terugkeer zijn onderzocht.", "The options for return were looked into."});
    case v1::Event::kConsentGranted:
      return absl::StrCat(d.W({"U gaf toestemming om gegevens te delen met ", "You consented to sharing data with "}),
                          HtmlEscape(absl::StrJoin(e.consent_granted().organisations(), ", ")), " (",
                          HtmlEscape(e.consent_granted().purpose()), ").");
    case v1::Event::kConsentRevoked:
      return d.W({"U trok uw toestemming om gegevens te delen in.", "You withdrew your consent to sharing data."});
    case v1::Event::kTerminated:
      return absl::StrCat(d.W({"Uw begeleiding is beëindigd: ", "Your guidance ended: "}),
                          ReasonWord(d, e.terminated().reason()), ".");
    case v1::Event::kCorrected:
      return absl::StrCat(d.W({"Gegevens zijn gecorrigeerd (", "Data was corrected ("}),
                          HtmlEscape(absl::StrJoin(e.corrected().field_paths(), ", ")), "). ",
                          d.W({"Reden: ", "Reason: "}), HtmlEscape(e.corrected().reason()));
    case v1::Event::kSubjectErased:
      return d.W({"Uw persoonsgegevens zijn gewist.", "Your personal data was erased."});
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  return org;
}

void Row(std::string& out, const std::string& key, const std::string& value) {
  absl::StrAppend(&out, "<tr><th scope=\"row\">", key, "</th><td>", value, "</td></tr>\n");
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderSubjectExportHtml(const v1::SubjectExport& x) {
  Doc d(x.lang() == "en");
  std::string& o = d.out();
  const std::string title = d.W({"Overzicht van uw gegevens", "Overview of your data"});
  absl::StrAppend(&o, "<!DOCTYPE html>\n<html lang=\"", d.en() ? "en" : "nl", "\">\n<head>\n<meta charset=\"utf-8\">\n",
                  "<title>", title, " — ", HtmlEscape(x.client_id()), "</title>\n",
                  "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.45;color:#111}"
                  "h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #999;margin-top:1.8em}"
                  "table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;"
                  "padding:.25em .5em;border-bottom:1px solid #ddd}th[scope=row]{width:16em}"
                  ".date{white-space:nowrap}.superseded{color:#666;text-decoration:line-through}.note{color:#444;font-size:.95em}"
                  "@media print{body{margin:0}}</style>\n</head>\n<body>\n");
  absl::StrAppend(&o, "<h1>", title, "</h1>\n<p>",
                  d.W({"U heeft gevraagd welke gegevens wij over u verwerken (inzageverzoek, artikel 15 AVG). "
                       "Dit document bevat alles wat het dossiersysteem over u bewaart.",
                       "You asked which data we process about you (access request, Article 15 GDPR). "
                       "This document contains everything the case system holds about you."}),
                  "</p>\n<table>\n");
  Row(o, d.W({"Dossiernummer", "Case number"}), HtmlEscape(x.client_id()));
  Row(o, d.W({"Opgesteld op", "Prepared on"}), TimeText(x.generated_at()));
  Row(o, d.W({"Verwerkingsverantwoordelijke", "Controller"}), HtmlEscape(x.register_().controller()));
  Row(o, d.W({"Contact", "Contact"}), HtmlEscape(x.register_().contact()));
  o += "</table>\n";

  // 1. The person's data.
  absl::StrAppend(&o, "<h2>1. ", d.W({"Uw persoonsgegevens", "Your personal data"}), "</h2>\n");
  if (x.erased()) {
    absl::StrAppend(&o, "<p>", d.W({"Uw persoonsgegevens zijn gewist op ", "Your personal data was erased on "}),
                    TimeText(x.erased_at()), ". ",
                    d.W({"Alleen gegevens over het verloop van de begeleiding zonder uw naam of andere "
                         "persoonsgegevens zijn bewaard, voor de verantwoording aan de gemeente.",
                         "Only facts about the course of the guidance, without your name or other personal data, "
                         "are kept, for the municipality's accountability."}),
                    "</p>\n");
  } else {
    const v1::PersonalData& p = x.personal_data();
    o += "<table>\n";
    Row(o, d.W({"Voornamen", "Given names"}), HtmlEscape(p.given_names()));
    Row(o, d.W({"Achternaam", "Family name"}), HtmlEscape(p.family_name()));
    Row(o, d.W({"Geboortedatum", "Date of birth"}), DateText(p.birth_date()));
    Row(o, d.W({"V-nummer", "V-number"}), HtmlEscape(p.v_number()));
    Row(o, d.W({"Nationaliteit", "Nationality"}), HtmlEscape(p.nationality()));
    Row(o, d.W({"Land van herkomst", "Country of origin"}), HtmlEscape(p.country_of_origin()));
    Row(o, d.W({"Telefoon", "Phone"}), HtmlEscape(p.phone()));
    Row(o, d.W({"Notities", "Notes"}), HtmlEscape(p.notes()));
    o += "</table>\n";
  }

  // 2. The guidance as it stands.
  const v1::CaseView& c = x.case_view();
  absl::StrAppend(&o, "<h2>2. ", d.W({"Uw begeleiding", "Your guidance"}), "</h2>\n<table>\n");
  Row(o, d.W({"Organisatie", "Organisation"}), HtmlEscape(c.organisation()));
  Row(o, d.W({"Traject", "Track"}), TrackWord(d, c.track()));
  Row(o, d.W({"Begeleider", "Counsellor"}), HtmlEscape(c.begeleider()));
  Row(o, d.W({"Start (intake)", "Start (intake)"}), DateText(c.intake_date()));
  Row(o, d.W({"Richting van het plan", "Aim of the plan"}), DirectionWord(d, c.plan_direction()));
  Row(o, d.W({"Doelen bereikt", "Goals reached"}), absl::StrCat(c.goals_done(), " / ", c.goals_total()));
  if (c.end_date().year() != 0) {
    Row(o, d.W({"Beëindigd", "Ended"}), absl::StrCat(DateText(c.end_date()), " (", ReasonWord(d, c.termination_reason()), ")"));
  }
  o += "</table>\n";

  // 3. History in plain words.
  absl::StrAppend(&o, "<h2>3. ", d.W({"Wat er in uw dossier is vastgelegd", "What was recorded in your file"}),
                  "</h2>\n<p class=\"note\">",
                  d.W({"Elke regel is een gebeurtenis in het dossier, oudste eerst. Gegevens worden nooit "
                       "overschreven: een correctie wordt als nieuwe gebeurtenis toegevoegd en de oude waarde "
                       "wordt doorgestreept getoond.",
                       "Each line is an event in the file, oldest first. Nothing is overwritten: a correction "
                       "is added as a new event and the old value is shown struck through."}),
                  "</p>\n<table>\n<tr><th>", d.W({"Datum", "Date"}), "</th><th>", d.W({"Wat", "What"}),
                  "</th><th>", d.W({"Door", "By"}), "</th></tr>\n");
  for (const v1::ExportedEvent& ev : x.events()) {
    const v1::Event& e = ev.event();
    std::string what = Describe(d, e);
    if (e.has_personal_data()) {
      std::vector<std::string> parts;
      const v1::PersonalData& p = e.personal_data();
      for (const std::string& s : {p.given_names(), p.family_name(), p.v_number(), p.nationality(),
                                   p.country_of_origin(), p.phone(), p.notes()}) {
        if (!s.empty()) parts.push_back(HtmlEscape(s));
      }
      if (p.birth_date().year() != 0) parts.push_back(DateText(p.birth_date()));
      absl::StrAppend(&what, "<br><span class=\"", ev.superseded() ? "superseded" : "note", "\">",
                      d.W({"Persoonsgegevens: ", "Personal data: "}), absl::StrJoin(parts, ", "), "</span>");
    }
    if (e.envelope().personal_data_erased()) {
      absl::StrAppend(&what, "<br><span class=\"note\">", d.W({"(persoonsgegevens gewist)", "(personal data erased)"}),
                      "</span>");
    }
    if (ev.superseded()) {
      absl::StrAppend(&what, "<br><span class=\"note\">", d.W({"Gecorrigeerd: ", "Corrected: "}),
                      HtmlEscape(absl::StrJoin(ev.superseded_fields(), ", ")), "</span>");
    }
    absl::StrAppend(&o, "<tr><td class=\"date\">", DayText(e.envelope().occurred_at()), "</td><td>", what, "</td><td>",
                    HtmlEscape(e.envelope().organisation()), "</td></tr>\n");
  }
  o += "</table>\n";

  // 4. Corrections.
  absl::StrAppend(&o, "<h2>4. ", d.W({"Correcties", "Corrections"}), "</h2>\n");
  if (x.rectifications().empty()) {
    absl::StrAppend(&o, "<p>", d.W({"Er zijn geen gegevens gecorrigeerd.", "No data was corrected."}), "</p>\n");
  } else {
    o += "<ul>\n";
    for (const v1::Rectification& r : x.rectifications()) {
      absl::StrAppend(&o, "<li>", TimeText(r.at()), ": ", HtmlEscape(absl::StrJoin(r.field_paths(), ", ")), " — ",
                      HtmlEscape(r.reason()), ". ",
                      d.W({"Geïnformeerd worden (art. 19 AVG): ", "To be informed (Art. 19 GDPR): "}),
                      HtmlEscape(absl::StrJoin(r.recipients_to_inform(), ", ")), "</li>\n");
    }
    o += "</ul>\n";
  }

  // 5. Who saw the data.
  absl::StrAppend(&o, "<h2>5. ", d.W({"Wie uw gegevens heeft ingezien", "Who looked at your data"}),
                  "</h2>\n<table>\n<tr><th>", d.W({"Wanneer", "When"}), "</th><th>",
                  d.W({"Organisatie", "Organisation"}), "</th><th>", d.W({"Persoon", "Person"}), "</th><th>",
                  d.W({"Waarom", "Why"}), "</th><th>", d.W({"Resultaat", "Outcome"}), "</th></tr>\n");
  for (const v1::ExportedAccess& a : x.access_log()) {
    absl::StrAppend(&o, "<tr><td>", TimeText(a.at()), "</td><td>", HtmlEscape(a.organisation()), "</td><td>",
                    HtmlEscape(a.user_id()), "</td><td>", HtmlEscape(a.purpose()), "</td><td>",
                    a.outcome() == "OK" ? d.W({"ingezien", "viewed"}) : d.W({"geweigerd", "refused"}),
                    "</td></tr>\n");
  }
  o += "</table>\n";

  // 6. Recipients.
  absl::StrAppend(&o, "<h2>6. ", d.W({"Ontvangers van uw gegevens", "Recipients of your data"}), "</h2>\n<ul>\n");
  for (const v1::Recipient& r : x.recipients()) {
    absl::StrAppend(&o, "<li>", HtmlEscape(r.organisation()), " (", HtmlEscape(r.how()), ", ",
                    d.W({"sinds ", "since "}), DayText(r.since()), ")</li>\n");
  }
  for (const std::string& cat : x.register_().recipient_categories()) {
    absl::StrAppend(&o, "<li>", HtmlEscape(cat), "</li>\n");
  }
  o += "</ul>\n";

  // 7. Why, on what basis, how long, from where.
  absl::StrAppend(&o, "<h2>7. ", d.W({"Waarom wij uw gegevens verwerken", "Why we process your data"}), "</h2>\n");
  for (const v1::ProcessingPurpose& p : x.register_().purposes()) {
    o += "<table>\n";
    Row(o, d.W({"Doel", "Purpose"}), HtmlEscape(p.purpose()));
    Row(o, d.W({"Grondslag", "Legal basis"}), HtmlEscape(p.legal_basis()));
    Row(o, d.W({"Soorten gegevens", "Categories of data"}), HtmlEscape(absl::StrJoin(p.categories(), ", ")));
    Row(o, d.W({"Bewaartermijn", "Retention period"}), HtmlEscape(p.retention()));
    Row(o, d.W({"Herkomst", "Source"}), HtmlEscape(p.source()));
    o += "</table>\n<p></p>\n";
  }
  absl::StrAppend(&o, "<p>", d.W({"Doorgifte buiten de EU: ", "Transfers outside the EU: "}),
                  HtmlEscape(x.register_().third_country_transfers()), "</p>\n<p>",
                  d.W({"Geautomatiseerde besluitvorming: ", "Automated decision-making: "}),
                  HtmlEscape(x.register_().automated_decisions()), "</p>\n");

  // 8. Rights.
  absl::StrAppend(&o, "<h2>8. ", d.W({"Uw rechten", "Your rights"}), "</h2>\n<ul>\n");
  for (Words w : std::initializer_list<Words>{
           {"U mag uw gegevens inzien (artikel 15 AVG) — dit document.",
            "You may see your data (Article 15 GDPR) — this document."},
           {"U mag onjuiste gegevens laten corrigeren (artikel 16).", "You may have incorrect data corrected (Article 16)."},
           {"U mag vragen uw gegevens te wissen (artikel 17), tenzij wij ze wettelijk moeten bewaren.",
            "You may ask us to erase your data (Article 17), unless the law requires us to keep it."},
           {"U mag vragen de verwerking te beperken (artikel 18).", "You may ask us to restrict processing (Article 18)."},
           {"U mag bezwaar maken tegen de verwerking (artikel 21).", "You may object to the processing (Article 21)."},
           {"U mag uw toestemming om gegevens te delen altijd intrekken.",
            "You may withdraw your consent to sharing data at any time."}}) {
    absl::StrAppend(&o, "<li>", d.W(w), "</li>\n");
  }
  absl::StrAppend(&o, "</ul>\n<p>",
                  d.W({"Bent u het niet eens met hoe wij met uw gegevens omgaan? Neem contact op met ",
                       "If you disagree with how we handle your data, contact "}),
                  HtmlEscape(x.register_().contact()),
                  d.W({". U kunt ook een klacht indienen bij de ", ". You may also complain to the "}),
                  HtmlEscape(x.register_().supervisory_authority()), ".</p>\n</body>\n</html>\n");
  return o;
}

}  // namespace caseledger::services
