// parse_http_url: what an HttpEndpoint Url becomes on the wire. The URL's
// path and query are sent exactly as configured.
#include <gtest/gtest.h>

#include "delivery/http_post.h"

namespace kinesd::delivery {
namespace {

TEST(ParseHttpUrl, HttpsDefaultsToPort443AndKeepsPathAndQuery) {
    http_url u;
    ASSERT_TRUE(parse_http_url("https://collector.example.com/v1/in?token=a%2Fb&x=1", u));
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.host, "collector.example.com");
    EXPECT_EQ(u.port, "443");
    EXPECT_EQ(u.host_header, "collector.example.com");
    EXPECT_EQ(u.target, "/v1/in?token=a%2Fb&x=1");
}

TEST(ParseHttpUrl, PlainHttpWithPortAndNoPath) {
    http_url u;
    ASSERT_TRUE(parse_http_url("http://127.0.0.1:8080", u));
    EXPECT_FALSE(u.tls);
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(u.port, "8080");
    EXPECT_EQ(u.host_header, "127.0.0.1:8080");
    EXPECT_EQ(u.target, "/");
    ASSERT_TRUE(parse_http_url("http://h?q=1#frag", u));
    EXPECT_EQ(u.target, "/?q=1");
}

TEST(ParseHttpUrl, Ipv6Literal) {
    http_url u;
    ASSERT_TRUE(parse_http_url("https://[::1]:9443/p", u));
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, "9443");
    EXPECT_EQ(u.host_header, "[::1]:9443");
}

TEST(ParseHttpUrl, RefusesOtherSchemesAndBadAuthorities) {
    http_url u;
    EXPECT_FALSE(parse_http_url("ftp://h/", u));
    EXPECT_FALSE(parse_http_url("https://", u));
    EXPECT_FALSE(parse_http_url("https://user:pw@h/", u));
    EXPECT_FALSE(parse_http_url("https://h:44x/", u));
    EXPECT_FALSE(parse_http_url("https://[::1/", u));
}

}  // namespace
}  // namespace kinesd::delivery
