#include "services/auth/identity.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/test_util.h"

namespace caseledger::services {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string cmd = absl::StrCat(CASELEDGER_SOURCE_DIR, "/deploy/make-certs.sh ", dir_.path(),
                                   " >/dev/null");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string Pem(const std::string& name) { return ReadAll(dir_.Sub(name + ".pem")); }

  testing::ScopedTempDir dir_;
};

TEST_F(IdentityTest, ReadsOrganisationRoleAndNameFromEachDevelopmentCertificate) {
  struct Expected {
    std::string file;
    Role role;
  };
  for (const Expected& e : std::vector<Expected>{{"vluchtelingenwerk", Role::kPartner},
                                                 {"goedwerk", Role::kPartner},
                                                 {"askv", Role::kPartner},
                                                 {"gemeente", Role::kMunicipality},
                                                 {"auditor", Role::kAuditor},
                                                 {"privacy-officer", Role::kPrivacyOfficer},
                                                 {"admin", Role::kAdmin}}) {
    auto id = IdentityFromCertificatePem(Pem(e.file));
    ASSERT_TRUE(id.ok()) << e.file << ": " << id.status();
    EXPECT_EQ(id->organisation, e.file);
    EXPECT_EQ(id->common_name, e.file);
    EXPECT_EQ(id->role, e.role) << e.file;
  }
}

TEST_F(IdentityTest, TheServerCertificateIsNoCallerRole) {
  auto id = IdentityFromCertificatePem(Pem("server"));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(id.status().message(),
            "the client certificate's OU is 'server', which is not a role; use partner, "
            "municipality, auditor, privacy-officer or admin");
}

TEST_F(IdentityTest, CertificateWithoutRoleIsRefused) {
  std::string cmd = absl::StrCat(
      "openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout ",
      dir_.Sub("norole.key"), " -out ", dir_.Sub("norole.pem"),
      " -days 1 -subj /O=goedwerk/CN=goedwerk 2>/dev/null");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto id = IdentityFromCertificatePem(Pem("norole"));
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(id.status().message(),
            "the client certificate has no OU (role) in its subject; ask the ledger's operator "
            "for a certificate made by deploy/make-certs.sh");
}

TEST_F(IdentityTest, GarbageIsNotACertificate) {
  auto id = IdentityFromCertificatePem("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(id.status().message(), "the client certificate is not a valid PEM certificate");
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role r : {Role::kPartner, Role::kMunicipality, Role::kAuditor, Role::kPrivacyOfficer,
                 Role::kAdmin}) {
    EXPECT_EQ(*ParseRole(RoleName(r)), r);
  }
  EXPECT_EQ(ParseRole("Admin").status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace caseledger::services

namespace caseledger::services {
namespace {

TEST_F(IdentityTest, TheMemoAnswersExactlyAsReadingTheCertificateAndReadsEachOnce) {
  IdentityMemo memo(3);
  for (int round = 0; round < 3; ++round) {
    for (const char* name : {"goedwerk", "auditor", "server"}) {
      absl::StatusOr<CallerIdentity> direct = IdentityFromCertificatePem(Pem(name));
      absl::StatusOr<CallerIdentity> remembered = memo.Get(Pem(name));
      ASSERT_EQ(remembered.status(), direct.status()) << name;  // the refusal of "server" too
      if (direct.ok()) {
        EXPECT_EQ(remembered->organisation, direct->organisation);
        EXPECT_EQ(remembered->role, direct->role);
        EXPECT_EQ(remembered->common_name, direct->common_name);
      }
    }
  }
  EXPECT_EQ(memo.parses(), 3u);  // three certificates, nine calls
  EXPECT_EQ(memo.size(), 3u);
  // Bounded: a fourth certificate starts the memo again instead of growing it.
  ASSERT_TRUE(memo.Get(Pem("askv")).ok());
  EXPECT_EQ(memo.size(), 1u);
  EXPECT_EQ(memo.Get(Pem("askv"))->organisation, "askv");
  EXPECT_EQ(memo.parses(), 4u);
  EXPECT_EQ(memo.Get("not a certificate").status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace caseledger::services
