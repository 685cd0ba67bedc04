// The access-request document (inzageverzoek, GDPR art. 15) as HTML, in
// Dutch or English, ready to hand to the person: their data, their history
// in plain words, corrections, who saw their data, recipients, why and how
// long the data is processed, and their rights.
//
// Every value from the ledger is HTML-escaped. Self-contained (inline CSS,
// no scripts, no external resources), printable.
//
// Thread-safety: pure function.
#ifndef CASELEDGER_SERVICES_SUBJECT_EXPORT_HTML_H_
#define CASELEDGER_SERVICES_SUBJECT_EXPORT_HTML_H_

#include <string>

#include "caseledger/v1/privacy_service.pb.h"

namespace caseledger::services {

// Renders `exported` in exported.lang() ("nl" or "en").
std::string RenderSubjectExportHtml(const v1::SubjectExport& exported);

// `text` with &, <, >, " and ' escaped.
std::string HtmlEscape(const std::string& text);

}  // namespace caseledger::services

#endif  // CASELEDGER_SERVICES_SUBJECT_EXPORT_HTML_H_
