#include "services/server.h"

#include "services/call_log.h"

#include <algorithm>
#include <grpcpp/resource_quota.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/string_view.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/admin_service.h"
#include "services/audit_service.h"
#include "services/caseload_service.h"
#include "services/ledger_service.h"
#include "storage/status_macros.h"

namespace caseledger::services {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read the ", what, " file ", path,
        "; pass the right path, or run tools/run once to generate development certificates"));
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string HostOf(const std::string& address) {
  if (absl::StartsWith(address, "[")) {
    size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

bool IsLoopbackAddress(const std::string& listen_address) {
  std::string host = HostOf(listen_address);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<std::unique_ptr<LedgerServer>> LedgerServer::Start(ServerConfig config) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (config.insecure) {
    if (!IsLoopbackAddress(config.listen_address)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--insecure is allowed on a loopback address only, not on ", config.listen_address,
          "; listen on 127.0.0.1 or drop --insecure and configure TLS"));
    }
    credentials = grpc::InsecureServerCredentials();
  } else {
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    CASELEDGER_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(config.tls_ca_file, "TLS CA"));
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    CASELEDGER_ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(config.tls_cert_file, "TLS certificate"));
    CASELEDGER_ASSIGN_OR_RETURN(pair.private_key, ReadFile(config.tls_key_file, "TLS key"));
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    credentials = grpc::SslServerCredentials(ssl);
  }

  std::error_code ec;
  std::filesystem::path ledger_dir = std::filesystem::path(config.data_dir) / "ledger";
  std::filesystem::create_directories(ledger_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat("cannot create the data directory ",
                                                      ledger_dir.string(), ": ", ec.message()));
  }
  CASELEDGER_ASSIGN_OR_RETURN(std::unique_ptr<storage::EventStore> store,
                              storage::EventStore::Open(ledger_dir.string(), config.store_options));

  CASELEDGER_ASSIGN_OR_RETURN(
      std::unique_ptr<storage::TreeHeadSigner> signer,
      storage::TreeHeadSigner::LoadOrCreate(
          (std::filesystem::path(config.data_dir) / "keys" / "tree-head.key").string()));

  CASELEDGER_ASSIGN_OR_RETURN(std::unique_ptr<storage::AccessLog> access_log,
                              storage::AccessLog::Open(store.get()));
  absl::StatusOr<storage::Key256> master_key =
      config.master_key_file.empty()
          ? storage::LoadOrCreateMasterKey(
                (std::filesystem::path(config.data_dir) / "keys" / "master.key").string())
          : storage::LoadMasterKey(config.master_key_file);
  if (!master_key.ok()) return master_key.status();
  CASELEDGER_ASSIGN_OR_RETURN(std::unique_ptr<storage::KeyVault> vault,
                              storage::KeyVault::Open(store.get(), *master_key));
  // Refuse to serve with a master key that cannot open the stored data keys
  // (e.g. a restore without the key backup): reads would all fail.
  CASELEDGER_RETURN_IF_ERROR(vault->CheckMasterKey());

  std::unique_ptr<LedgerServer> server(new LedgerServer(std::move(config), std::move(store)));
  server->signer_ = std::move(signer);
  server->access_log_ = std::move(access_log);
  server->vault_ = std::move(vault);
  std::string backup_dir = server->config_.backup_dir.empty()
                               ? (std::filesystem::path(server->config_.data_dir) / "backups").string()
                               : server->config_.backup_dir;
  server->caseload_worker_ = std::make_unique<projections::ProjectionWorker>(
      server->store_.get(), std::make_unique<projections::CaseloadProjection>());
  server->caseload_worker_->Start();
  server->admin_service_ = std::make_unique<AdminServiceImpl>(
      server->store_.get(), server->started_at_, backup_dir,
      std::vector<projections::ProjectionWorker*>{server->caseload_worker_.get()});
  LedgerServiceOptions ledger_options;
  ledger_options.clock = server->config_.clock;
  ledger_options.case_cache = &server->case_cache_;
  ledger_options.max_subscribers = server->config_.max_subscribers;
  ledger_options.max_subscriber_lag = server->config_.max_subscriber_lag;
  ledger_options.subscriber_stall_timeout = server->config_.subscriber_stall_timeout;
  ledger_options.checkpoint_interval = server->config_.checkpoint_interval;
  server->ledger_service_ = std::make_unique<LedgerServiceImpl>(
      server->store_.get(), server->vault_.get(), server->access_log_.get(), &server->metrics_,
      ledger_options);
  CaseloadServiceOptions caseload_options;
  caseload_options.policy = server->config_.caseload_policy;
  caseload_options.clock = server->config_.clock;
  caseload_options.case_cache = &server->case_cache_;
  server->caseload_service_ = std::make_unique<CaseloadServiceImpl>(
      server->store_.get(), server->caseload_worker_.get(), server->access_log_.get(),
      caseload_options);
  PrivacyServiceOptions privacy_options;
  privacy_options.register_ = server->config_.processing_register;
  privacy_options.retention_days = server->config_.retention_days;
  privacy_options.policy = server->config_.caseload_policy;
  privacy_options.clock = server->config_.clock;
  privacy_options.case_cache = &server->case_cache_;
  server->privacy_service_ = std::make_unique<PrivacyServiceImpl>(
      server->store_.get(), server->vault_.get(), server->access_log_.get(),
      server->caseload_worker_.get(), privacy_options);
  if (server->config_.retention_interval > absl::ZeroDuration()) {
    server->privacy_service_->StartRetention(server->config_.retention_interval);
  }
  server->audit_service_ = std::make_unique<AuditServiceImpl>(
      server->store_.get(), server->signer_.get(), server->access_log_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(server->config_.max_message_bytes);
  grpc::ResourceQuota quota("caseledgerd");
  quota.SetMaxThreads(server->config_.max_threads);
  builder.SetResourceQuota(quota);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              std::max(2, std::min(server->config_.idle_threads, server->config_.max_threads)));
  if (server->config_.log_calls) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(MakeCallLogFactory(server->config_.slow_call_threshold));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.AddListeningPort(server->config_.listen_address, credentials, &server->port_);
  builder.RegisterService(server->admin_service_.get());
  builder.RegisterService(server->ledger_service_.get());
  builder.RegisterService(server->audit_service_.get());
  builder.RegisterService(server->caseload_service_.get());
  builder.RegisterService(server->privacy_service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", server->config_.listen_address,
        "; is another process using that port? Choose another with --listen"));
  }
  if (!server->config_.metrics_listen.empty()) {
    CASELEDGER_ASSIGN_OR_RETURN(
        server->metrics_server_,
        MetricsServer::Start(server->config_.metrics_listen, &server->metrics_, server->store_.get(),
                             {server->caseload_worker_.get()}, &server->case_cache_));
  }
  server->server_->GetHealthCheckService()->SetServingStatus(true);
  return server;
}

LedgerServer::LedgerServer(ServerConfig config, std::unique_ptr<storage::EventStore> store)
    : config_(std::move(config)), started_at_(absl::Now()), store_(std::move(store)) {}

LedgerServer::~LedgerServer() { Shutdown(absl::ZeroDuration()); }

void LedgerServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    ledger_service_->BeginShutdown();  // subscriptions end now, not at the deadline
    metrics_server_.reset();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_->Wait();
  }
  // No call can reach the store any more: stop the workers and close RocksDB
  // (the access log and the projections live in it).
  if (privacy_service_) privacy_service_->Stop();
  if (caseload_worker_) caseload_worker_->Stop();
  access_log_.reset();
  store_.reset();
}

void LedgerServer::Wait() {
  if (server_) server_->Wait();
}

}  // namespace caseledger::services
