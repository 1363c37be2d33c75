// Which requests the router runs on the I/O thread that read them.
#include <gtest/gtest.h>

#include <string>

#include "http/router.h"

namespace kinesd::http {
namespace {

request post(std::string target, std::size_t body_size) {
    request r;
    r.method = "POST";
    r.amz_target = std::move(target);
    r.content_type = "application/x-amz-json-1.1";
    r.body.assign(body_size, ' ');
    return r;
}

TEST(router_inline, small_puts_run_on_the_io_thread) {
    EXPECT_TRUE(router::runs_inline(post("Kinesis_20131202.PutRecord", 200)));
    EXPECT_TRUE(router::runs_inline(post("Kinesis_20131202.PutRecords", 4000)));
    EXPECT_TRUE(router::runs_inline(post("Kinesis_20131202.PutRecord", router::inline_body_limit)));
}

TEST(router_inline, large_puts_go_to_the_workers) {
    EXPECT_FALSE(router::runs_inline(post("Kinesis_20131202.PutRecord", router::inline_body_limit + 1)));
    EXPECT_FALSE(router::runs_inline(post("Kinesis_20131202.PutRecords", 1 << 20)));
}

TEST(router_inline, reads_and_control_plane_go_to_the_workers) {
    for (const char* target : {"Kinesis_20131202.GetRecords", "Kinesis_20131202.GetShardIterator",
                               "Kinesis_20131202.CreateStream", "Kinesis_20131202.DescribeStream",
                               "Kinesis_20131202.SplitShard", "Kinesis_20131202.ListShards"})
        EXPECT_FALSE(router::runs_inline(post(target, 100))) << target;
}

TEST(router_inline, anything_the_pipeline_refuses_early_goes_to_the_workers) {
    EXPECT_FALSE(router::runs_inline(post("Kinesis_20131202.PutRecord", 0)));
    EXPECT_FALSE(router::runs_inline(post("Kinesis_20131202.NoSuchAction", 100)));
    EXPECT_FALSE(router::runs_inline(post("", 100)));
    auto get = post("Kinesis_20131202.PutRecord", 100);
    get.method = "GET";
    EXPECT_FALSE(router::runs_inline(get));
}

}  // namespace
}  // namespace kinesd::http
