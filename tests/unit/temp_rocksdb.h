#pragma once
// A RocksDB store in a temporary directory of its own, per test and
// process, removed again when the test ends: the store tests of several
// folders share one store between "front ends" built on it.
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/clock.h"
#include "storage/rocksdb_store.h"

namespace kinesd::testing_support {

class temp_rocksdb {
public:
    temp_rocksdb(const kinesd::clock& clock, const std::string& tag)
        : dir_(std::filesystem::temp_directory_path() /
               ("kinesd-" + tag + "-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
        std::filesystem::remove_all(dir_);
        storage::rocksdb_options o;
        o.path = dir_.string();
        store_ = std::make_unique<storage::rocksdb_store>(o, clock);
    }
    ~temp_rocksdb() {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    temp_rocksdb(const temp_rocksdb&) = delete;
    temp_rocksdb& operator=(const temp_rocksdb&) = delete;

    storage::rocksdb_store& store() { return *store_; }

private:
    std::filesystem::path dir_;
    std::unique_ptr<storage::rocksdb_store> store_;
};

}  // namespace kinesd::testing_support
