// Opens a closed ledger database directly with RocksDB, bypassing the event
// store, so tests can damage stored bytes and check that damage is found.
#ifndef CASELEDGER_TESTS_RAW_DATABASE_H_
#define CASELEDGER_TESTS_RAW_DATABASE_H_

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "rocksdb/db.h"
#include "storage/column_families.h"

namespace caseledger::testing {

// Rewrites the value under `key` in column family `cf` through `edit`. The
// database at `path` must not be open elsewhere.
inline void EditStoredValue(const std::string& path, size_t cf, const std::string& key,
                            const std::function<void(std::string&)>& edit) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : storage::kColumnFamilyNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles, &db).ok());
  std::string value;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[cf], key, &value).ok()) << "no such key";
  edit(value);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[cf], key, value).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
}

}  // namespace caseledger::testing

#endif  // CASELEDGER_TESTS_RAW_DATABASE_H_
