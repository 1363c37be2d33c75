#include "storage/wal_file_system.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <unistd.h>

namespace kinesd::storage {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The zeros come from a background thread; this waits for them (the bound
// only keeps a broken build from hanging).
bool wait_for_size_at_least(const fs::path& path, std::uintmax_t size) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        if (fs::file_size(path) >= size) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

class WalFileSystemTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("kinesd-wal-test-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<rocksdb::FSWritableFile> open_log(rocksdb::FileSystem& files, const std::string& name) {
        std::unique_ptr<rocksdb::FSWritableFile> file;
        EXPECT_TRUE(files.NewWritableFile((dir_ / name).string(), rocksdb::FileOptions(), &file, nullptr).ok());
        return file;
    }

    fs::path dir_;
};

TEST(WalFileName, OnlyNumberedLogFilesAreWalFiles) {
    EXPECT_TRUE(is_wal_file_name("000004.log"));
    EXPECT_TRUE(is_wal_file_name("/data/dir/123456.log"));
    EXPECT_FALSE(is_wal_file_name("LOG"));
    EXPECT_FALSE(is_wal_file_name("LOG.old.1700000000"));
    EXPECT_FALSE(is_wal_file_name("MANIFEST-000005"));
    EXPECT_FALSE(is_wal_file_name("000009.sst"));
    EXPECT_FALSE(is_wal_file_name("/data/dir/archive.log"));
    EXPECT_FALSE(is_wal_file_name(".log"));
    EXPECT_FALSE(is_wal_file_name("/data/12.log/000010.sst"));
}

TEST_F(WalFileSystemTest, AppendsLandOnZerosLaidAheadAndCloseCutsThemOff) {
    auto files = make_wal_file_system({.step = 64u << 10, .max_bytes_per_second = 1u << 30});
    auto file = open_log(*files, "000007.log");
    ASSERT_TRUE(file);
    const std::string first(1000, 'a'), second(500, 'b');
    ASSERT_TRUE(file->Append(first, rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(wait_for_size_at_least(dir_ / "000007.log", first.size() + (32u << 10)));
    ASSERT_TRUE(file->Append(second, rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    EXPECT_EQ(file->GetFileSize(rocksdb::IOOptions(), nullptr), first.size() + second.size());

    std::string on_disk = read_file(dir_ / "000007.log");
    ASSERT_GT(on_disk.size(), first.size() + second.size());
    EXPECT_EQ(on_disk.substr(0, first.size() + second.size()), first + second);
    EXPECT_EQ(on_disk.find_first_not_of('\0', first.size() + second.size()), std::string::npos);

    ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
    EXPECT_EQ(read_file(dir_ / "000007.log"), first + second);
}

TEST_F(WalFileSystemTest, AppendsRacingTheZerosAreNeverOverwritten) {
    // Steps of 4 KiB against appends of up to 3 KiB: the log keeps passing
    // the zeros' end, and the zeros are laid right where it is headed.
    auto files = make_wal_file_system({.step = 4u << 10, .max_bytes_per_second = std::size_t(1) << 40});
    auto file = open_log(*files, "000008.log");
    ASSERT_TRUE(file);
    std::mt19937 random(7);
    std::string expected;
    for (int i = 0; i < 3000; ++i) {
        std::string piece(random() % 3000 + 1, '\0');
        for (auto& c : piece) c = char('A' + random() % 26);
        ASSERT_TRUE(file->Append(piece, rocksdb::IOOptions(), nullptr).ok());
        expected += piece;
        if (i % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::string on_disk = read_file(dir_ / "000008.log");
    ASSERT_GE(on_disk.size(), expected.size());
    EXPECT_TRUE(on_disk.compare(0, expected.size(), expected) == 0) << "an append was overwritten by zeros";
    ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
    EXPECT_EQ(fs::file_size(dir_ / "000008.log"), expected.size());
}

TEST(WalZeroing, ALogGrowingFasterThanTheLimitIsLeftToAppends) {
    const wal_zeroing zeroing{.step = 2u << 20, .max_bytes_per_second = 32u << 20};
    // 1 MiB in 10 ms is 100 MiB/s: no zeros, however close the end.
    EXPECT_FALSE(zeroing.lays_zeros(1u << 20, 0.010, 5u << 20, 5u << 20));
    // 100 KiB in 10 ms is 10 MiB/s: zeros once within half a step of the end.
    EXPECT_TRUE(zeroing.lays_zeros(100u << 10, 0.010, 5u << 20, 6u << 20));
    EXPECT_TRUE(zeroing.lays_zeros(100u << 10, 0.010, 7u << 20, 6u << 20));
    EXPECT_FALSE(zeroing.lays_zeros(100u << 10, 0.010, (5u << 20) - 1, 6u << 20));
    // An idle log near the end of its zeros, a new one included.
    EXPECT_TRUE(zeroing.lays_zeros(0, 0.010, 0, 0));
    EXPECT_FALSE(zeroing.lays_zeros(0, 0.010, 0, 2u << 20));
}

TEST_F(WalFileSystemTest, OtherFilesAreTheDefaultFileSystems) {
    auto files = make_wal_file_system({.step = 64u << 10, .max_bytes_per_second = 1u << 30});
    auto file = open_log(*files, "MANIFEST-000001");
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->Append(std::string(100, 'm'), rocksdb::IOOptions(), nullptr).ok());
    ASSERT_TRUE(file->Sync(rocksdb::IOOptions(), nullptr).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(fs::file_size(dir_ / "MANIFEST-000001"), 100u);
    ASSERT_TRUE(file->Close(rocksdb::IOOptions(), nullptr).ok());
}

// What a crash leaves: the live WAL with zeros after its last record. The
// copy is opened by plain RocksDB, in its default point-in-time recovery,
// and must hold every synced write.
TEST_F(WalFileSystemTest, RocksDbRecoversEverySyncedWriteFromALogWithZerosAfterIt) {
    auto env = rocksdb::NewCompositeEnv(make_wal_file_system({.step = 1u << 20, .max_bytes_per_second = 1u << 30}));
    const fs::path live = dir_ / "live", copy = dir_ / "copy";
    rocksdb::Options options;
    options.create_if_missing = true;
    options.env = env.get();
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, live.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions synced;
    synced.sync = true;
    for (int i = 0; i < 300; ++i)
        ASSERT_TRUE(db->Put(synced, "key" + std::to_string(i), std::string(std::size_t(100 + i * 7), char('a' + i % 26))).ok());

    fs::path wal;
    for (auto& entry : fs::directory_iterator(live))
        if (is_wal_file_name(entry.path().string())) wal = entry.path();
    ASSERT_FALSE(wal.empty());
    ASSERT_TRUE(wait_for_size_at_least(wal, 1u << 20));
    fs::copy(live, copy);
    auto tail = read_file(copy / wal.filename());
    ASSERT_EQ(tail.back(), '\0') << "the copied log has no zeros after its records";
    db.reset();

    rocksdb::Options plain;
    ASSERT_TRUE(rocksdb::DB::Open(plain, copy.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> recovered(raw);
    for (int i = 0; i < 300; ++i) {
        std::string value;
        ASSERT_TRUE(recovered->Get(rocksdb::ReadOptions(), "key" + std::to_string(i), &value).ok()) << i;
        EXPECT_EQ(value, std::string(std::size_t(100 + i * 7), char('a' + i % 26)));
    }
    // And it goes on from there.
    ASSERT_TRUE(recovered->Put(synced, "after", "recovery").ok());
}

}  // namespace
}  // namespace kinesd::storage
