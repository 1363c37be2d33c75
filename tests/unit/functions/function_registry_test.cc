#include "functions/function_registry.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "functions/http_url.h"

namespace kinesd::functions {
namespace {

const std::string url = "http://127.0.0.1:9000/2015-03-31/functions/function/invocations";

function_registry registry() { return function_registry("us-east-1", "123456789012", {{"enrich", url}, {"other_fn-2", "http://h/x"}}); }

TEST(FunctionName, AcceptsLambdasForms) {
    auto plain = parse_function_name("enrich");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->name, "enrich");
    EXPECT_EQ(plain->qualifier, "");
    EXPECT_EQ(plain->account, "");

    auto qualified = parse_function_name("enrich:prod");
    ASSERT_TRUE(qualified);
    EXPECT_EQ(qualified->name, "enrich");
    EXPECT_EQ(qualified->qualifier, "prod");

    auto partial = parse_function_name("123456789012:function:enrich:7");
    ASSERT_TRUE(partial);
    EXPECT_EQ(partial->account, "123456789012");
    EXPECT_EQ(partial->name, "enrich");
    EXPECT_EQ(partial->qualifier, "7");

    auto full = parse_function_name("arn:aws:lambda:eu-west-2:123456789012:function:enrich:$LATEST");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->region, "eu-west-2");
    EXPECT_EQ(full->account, "123456789012");
    EXPECT_EQ(full->name, "enrich");
    EXPECT_EQ(full->qualifier, "$LATEST");

    EXPECT_TRUE(parse_function_name("arn:aws-cn:lambda:cn-north-1:123456789012:function:f"));
}

TEST(FunctionName, RefusesMalformed) {
    for (const char* bad : {"", "a b", "enrich:", "enrich:pro d", "a:b:c", "12345:function:enrich",
                            "arn:aws:s3:us-east-1:123456789012:function:enrich",
                            "arn:aws:lambda:us-east-1:123456789012:layer:enrich",
                            "arn:aws:lambda:us-east-1:123456789012:function:enrich:1:2",
                            "arn:aws:lambda:us-east-1:12345678901:function:enrich",
                            "arn:aws:lambda::123456789012:function:enrich",
                            "123456789012:function:enrich:1:2"})
        EXPECT_FALSE(parse_function_name(bad)) << bad;
    EXPECT_FALSE(parse_function_name(std::string(65, 'a')));
    EXPECT_TRUE(parse_function_name(std::string(64, 'a')));
}

TEST(FunctionRegistry, ResolvesEveryFormToTheMappedUrl) {
    auto r = registry();
    for (const char* name : {"enrich", "enrich:1", "123456789012:function:enrich",
                             "arn:aws:lambda:us-east-1:123456789012:function:enrich",
                             "arn:aws:lambda:us-east-1:123456789012:function:enrich:live"}) {
        auto fn = r.resolve(name);
        ASSERT_TRUE(fn) << name;
        EXPECT_EQ(fn->name, "enrich");
        EXPECT_EQ(fn->url, url);
        EXPECT_EQ(fn->arn, "arn:aws:lambda:us-east-1:123456789012:function:enrich");
    }
    EXPECT_EQ(r.resolve("enrich:live")->qualifier, "live");
    EXPECT_EQ(r.resolve("other_fn-2")->url, "http://h/x");
}

TEST(FunctionRegistry, OtherRegionAccountOrNameIsNotFound) {
    auto r = registry();
    EXPECT_FALSE(r.resolve("missing"));
    EXPECT_FALSE(r.resolve("Enrich"));  // names are case-sensitive
    EXPECT_FALSE(r.resolve("arn:aws:lambda:us-west-2:123456789012:function:enrich"));
    EXPECT_FALSE(r.resolve("arn:aws:lambda:us-east-1:000000000000:function:enrich"));
    EXPECT_FALSE(r.resolve("999999999999:function:enrich"));
}

TEST(FunctionRegistry, RefusesBadNamesAndUrls) {
    function_registry r;
    EXPECT_THROW(r.add("bad name", url), std::invalid_argument);
    EXPECT_THROW(r.add("f", "https://127.0.0.1/x"), std::invalid_argument);
    EXPECT_THROW(r.add("f", "127.0.0.1:9000/x"), std::invalid_argument);
    EXPECT_THROW(r.add("f", "http://:9000/x"), std::invalid_argument);
    EXPECT_THROW(r.add("f", "http://h:70000/x"), std::invalid_argument);
    r.add("f", "http://h:9000");
    EXPECT_EQ(r.urls().at("f"), "http://h:9000");
}

TEST(HttpUrl, SplitsHostPortAndTarget) {
    auto u = parse_http_url(url);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "127.0.0.1");
    EXPECT_EQ(u->port, "9000");
    EXPECT_EQ(u->target, "/2015-03-31/functions/function/invocations");
    auto bare = parse_http_url("http://localhost");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->port, "80");
    EXPECT_EQ(bare->target, "/");
    auto v6 = parse_http_url("http://[::1]:8080/p?q=1");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, "8080");
    EXPECT_EQ(v6->target, "/p?q=1");
}

TEST(FunctionList, ParsesNameEqualsUrlPairs) {
    auto m = parse_function_list("a=http://h:1/x, b=http://h:2/y?k=v,");
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m.at("a"), "http://h:1/x");
    EXPECT_EQ(m.at("b"), "http://h:2/y?k=v");
    EXPECT_THROW(parse_function_list("a"), std::invalid_argument);
    EXPECT_THROW(parse_function_list("=http://h"), std::invalid_argument);
}

}  // namespace
}  // namespace kinesd::functions
