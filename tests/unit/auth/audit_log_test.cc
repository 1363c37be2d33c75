#include "auth/audit_log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace auth = kinesd::auth;

TEST(audit_log, formats_one_json_line) {
    auth::audit_entry e{1764900000123, std::string("AKIA1"), "111111111111", "CreateStream",
                        "arn:aws:kinesis:us-east-1:111111111111:stream/s", "ok"};
    EXPECT_EQ(auth::audit_log::format(e),
              R"({"time":"2025-12-05T02:00:00.123Z","access_key_id":"AKIA1","account":"111111111111",)"
              R"("action":"CreateStream","resource":"arn:aws:kinesis:us-east-1:111111111111:stream/s","result":"ok"})");
    auth::audit_entry anonymous{7, std::nullopt, "", "ListStreams", "", "MissingAuthenticationTokenException"};
    EXPECT_EQ(auth::audit_log::format(anonymous),
              R"({"time":"1970-01-01T00:00:00.007Z","access_key_id":null,"account":null,"action":"ListStreams",)"
              R"("resource":null,"result":"MissingAuthenticationTokenException"})");
}

TEST(audit_log, writes_every_recorded_line_to_its_file) {
    auto path = std::filesystem::temp_directory_path() / ("kinesd_audit_" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    {
        auth::audit_log log(path.string());
        for (int i = 0; i < 100; ++i) log.record({i, std::nullopt, "000000000000", "DeleteStream", "s", "ok"});
        log.flush();
        std::ifstream in(path);
        std::string line;
        int lines = 0;
        while (std::getline(in, line)) ++lines;
        EXPECT_EQ(lines, 100);
    }
    std::filesystem::remove(path);
}
