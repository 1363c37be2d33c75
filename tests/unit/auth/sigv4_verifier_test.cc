#include "auth/sigv4_verifier.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace auth = kinesd::auth;
namespace sigv4 = kinesd::sigv4;
using kinesd::http::request;

namespace {

// The AWS SigV4 test suite's credentials and instant.
constexpr const char* suite_key = "AKIDEXAMPLE";
constexpr const char* suite_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

std::chrono::system_clock::time_point utc(int year, unsigned month, unsigned day, int hour, int minute, int second) {
    using namespace std::chrono;
    return sys_days{std::chrono::year{year} / month / day} + hours{hour} + minutes{minute} + seconds{second};
}
const auto suite_time = utc(2015, 8, 30, 12, 36, 0);

// A verdict's key points into the verifier that gave it, so a test that
// reads the key keeps the verifier alive.
auth::sigv4_verifier suite_verifier() {
    return auth::sigv4_verifier({{"suite", suite_key, suite_secret, "123456789012"},
                                 {"other", "AKIDOTHER", "othersecret", "210987654321"}});
}

request with_headers(std::string method, std::string path, std::vector<std::pair<std::string, std::string>> headers,
                     std::string authorization) {
    request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.headers = std::move(headers);
    for (auto& [n, v] : r.headers) {
        if (n == "X-Amz-Date") r.amz_date = v;
        if (n == "Host") r.host = v;
    }
    r.authorization = std::move(authorization);
    r.headers.emplace_back("Authorization", r.authorization);
    return r;
}

// get-vanilla and post-vanilla of the test suite, as they arrive.
request vanilla(const std::string& method, const std::string& signature) {
    return with_headers(method, "/", {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                        "SignedHeaders=host;x-amz-date, Signature=" + signature);
}
const std::string get_vanilla_signature = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const std::string post_vanilla_signature = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";

// A Kinesis call signed with the shared signer, as an SDK signs it.
request kinesis_call(const std::string& key, const std::string& secret, std::chrono::system_clock::time_point when,
                     const std::string& body) {
    sigv4::request s;
    s.method = "POST";
    s.canonical_uri = "/";
    s.headers = {{"host", "127.0.0.1:4567"},
                 {"content-type", "application/x-amz-json-1.1"},
                 {"x-amz-target", "Kinesis_20131202.ListStreams"}};
    s.payload_hash = sigv4::sha256_hex(body);
    auto signed_req = sigv4::sign(s, {key, secret, ""}, "us-east-1", "kinesis", when);
    request r;
    r.method = "POST";
    r.path = "/";
    r.host = "127.0.0.1:4567";
    for (auto& h : s.headers) r.headers.emplace_back(h.name, h.value);
    r.headers.emplace_back("User-Agent", "test  agent");  // not signed
    r.amz_date = signed_req.amz_date;
    r.authorization = signed_req.authorization;
    r.body = body;
    return r;
}

void expect_error(const auth::verdict& v, int status, const std::string& type, const std::string& message) {
    ASSERT_TRUE(v.error.has_value());
    EXPECT_EQ(v.key, nullptr);
    EXPECT_EQ(v.error->status(), status);
    EXPECT_EQ(v.error->type(), type);
    EXPECT_EQ(v.error->message(), message);
}

const std::string mismatch_text =
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details.";

}  // namespace

TEST(sigv4_verifier, accepts_the_test_suite_vanilla_requests) {
    auto v = suite_verifier();
    for (auto [method, signature] : {std::pair{"GET", get_vanilla_signature}, {"POST", post_vanilla_signature}}) {
        auto verdict = v.verify(vanilla(method, signature), suite_time);
        ASSERT_FALSE(verdict.error) << verdict.error->message();
        ASSERT_NE(verdict.key, nullptr);
        EXPECT_EQ(verdict.key->account_id, "123456789012");
    }
}

TEST(sigv4_verifier, accepts_the_test_suite_query_parameters_vector) {
    auto req = vanilla("GET", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    req.path = "/?Param2=value2&Param1=value1";
    auto verifier = suite_verifier();
    auto verdict = verifier.verify(req, suite_time);
    EXPECT_FALSE(verdict.error) << verdict.error->message();
}

TEST(sigv4_verifier, refuses_a_changed_request) {
    auto v = suite_verifier();
    expect_error(v.verify(vanilla("POST", get_vanilla_signature), suite_time), 400, "InvalidSignatureException",
                 mismatch_text);
    auto body = vanilla("POST", post_vanilla_signature);
    body.body = "{}";
    expect_error(v.verify(body, suite_time), 400, "InvalidSignatureException", mismatch_text);
}

TEST(sigv4_verifier, accepts_a_kinesis_call_and_names_its_account) {
    const auto now = std::chrono::system_clock::now();
    auto verifier = suite_verifier();
    auto verdict = verifier.verify(kinesis_call("AKIDOTHER", "othersecret", now, "{}"), now);
    ASSERT_FALSE(verdict.error) << verdict.error->message();
    EXPECT_EQ(verdict.key->account_id, "210987654321");
    EXPECT_EQ(verdict.key->access_key, "AKIDOTHER");
}

TEST(sigv4_verifier, a_body_changed_after_signing_fails) {
    const auto now = std::chrono::system_clock::now();
    auto req = kinesis_call("AKIDOTHER", "othersecret", now, R"({"Limit":1})");
    req.body = R"({"Limit":2})";
    expect_error(suite_verifier().verify(req, now), 400, "InvalidSignatureException", mismatch_text);
}

TEST(sigv4_verifier, a_wrong_secret_fails) {
    const auto now = std::chrono::system_clock::now();
    expect_error(suite_verifier().verify(kinesis_call("AKIDOTHER", "not-the-secret", now, "{}"), now), 400,
                 "InvalidSignatureException", mismatch_text);
}

TEST(sigv4_verifier, an_unknown_key_is_unrecognized) {
    const auto now = std::chrono::system_clock::now();
    auto verifier = suite_verifier();
    auto verdict = verifier.verify(kinesis_call("AKIDNOBODY", "x", now, "{}"), now);
    expect_error(verdict, 400, "UnrecognizedClientException", "The security token included in the request is invalid.");
    EXPECT_EQ(verdict.claimed_access_key, "AKIDNOBODY");
}

TEST(sigv4_verifier, no_authorization_is_a_missing_token) {
    request r;
    r.method = "POST";
    r.path = "/";
    expect_error(suite_verifier().verify(r, suite_time), 400, "MissingAuthenticationTokenException",
                 "Missing Authentication Token");
}

TEST(sigv4_verifier, missing_parts_are_listed_with_the_header) {
    request r;
    r.method = "POST";
    r.path = "/";
    r.authorization = "AWS4-HMAC-SHA256 SignedHeaders=host";
    expect_error(suite_verifier().verify(r, suite_time), 400, "IncompleteSignatureException",
                 "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' "
                 "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                 "Authorization=AWS4-HMAC-SHA256 SignedHeaders=host");
}

TEST(sigv4_verifier, clock_skew_beyond_five_minutes_fails_with_aws_texts) {
    auto v = suite_verifier();
    auto req = vanilla("GET", get_vanilla_signature);
    // Within five minutes either way is fine.
    EXPECT_FALSE(v.verify(req, suite_time + std::chrono::minutes(5)).error);
    EXPECT_FALSE(v.verify(req, suite_time - std::chrono::minutes(5)).error);
    expect_error(v.verify(req, utc(2015, 8, 30, 12, 46, 0)), 400, "InvalidSignatureException",
                 "Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)");
    expect_error(v.verify(req, utc(2015, 8, 30, 12, 26, 0)), 400, "InvalidSignatureException",
                 "Signature not yet current: 20150830T123600Z is still later than 20150830T123100Z "
                 "(20150830T122600Z + 5 min.)");
}

TEST(sigv4_verifier, header_and_query_together_are_refused) {
    auto req = vanilla("GET", get_vanilla_signature);
    req.path = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256";
    expect_error(suite_verifier().verify(req, suite_time), 400, "InvalidSignatureException",
                 "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
}

TEST(sigv4_verifier, presigned_query_form) {
    // Signs the query form by hand with the shared functions: every
    // X-Amz-* parameter but the signature is part of the canonical query.
    sigv4::query_params params = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                                  {"X-Amz-Credential", "AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request"},
                                  {"X-Amz-Date", "20150830T123600Z"},
                                  {"X-Amz-Expires", "300"},
                                  {"X-Amz-SignedHeaders", "host"}};
    sigv4::request s;
    s.method = "POST";
    s.canonical_uri = "/";
    s.canonical_query = sigv4::canonical_query(params);
    s.headers = {{"host", "127.0.0.1:4567"}};
    s.payload_hash = sigv4::sha256_hex("{}");
    const sigv4::credential_scope scope{"20150830", "us-east-1", "kinesis"};
    const auto signature = sigv4::expected_signature(sigv4::canonical_request(s), "20150830T123600Z", scope, suite_secret);
    request r;
    r.method = "POST";
    r.path = "/?" + s.canonical_query + "&X-Amz-Signature=" + signature;
    r.host = "127.0.0.1:4567";
    r.body = "{}";
    auto v = suite_verifier();
    auto verdict = v.verify(r, suite_time);
    ASSERT_FALSE(verdict.error) << verdict.error->message();
    EXPECT_EQ(verdict.key->access_key, "AKIDEXAMPLE");
    r.body = "{ }";
    expect_error(v.verify(r, suite_time), 400, "InvalidSignatureException", mismatch_text);

    request partial;
    partial.method = "POST";
    partial.path = "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20150830T123600Z";
    expect_error(v.verify(partial, suite_time), 400, "IncompleteSignatureException",
                 "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must "
                 "include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
                 "Re-examine the query-string parameters.");
}

TEST(sigv4_verifier, a_signed_header_that_did_not_arrive_fails) {
    auto req = vanilla("GET", get_vanilla_signature);
    req.headers.erase(req.headers.begin());  // Host
    req.host = "example.amazonaws.com";      // as HTTP/2 carries it (:authority)
    EXPECT_FALSE(suite_verifier().verify(req, suite_time).error);
    req.host.clear();
    expect_error(suite_verifier().verify(req, suite_time), 400, "InvalidSignatureException", mismatch_text);
}

TEST(sigv4_verifier, parses_both_date_forms) {
    EXPECT_EQ(auth::parse_request_date("20150830T123600Z"), suite_time);
    EXPECT_EQ(auth::parse_request_date("Sun, 30 Aug 2015 12:36:00 GMT"), suite_time);
    EXPECT_FALSE(auth::parse_request_date("2015-08-30"));
    EXPECT_FALSE(auth::parse_request_date("20151330T123600Z"));
}

TEST(sigv4_verifier, an_http2_client_may_sign_the_authority) {
    // The JavaScript SDK's HTTP/2 handler signs ":authority" instead of host.
    const auto now = std::chrono::system_clock::now();
    sigv4::request s;
    s.method = "POST";
    s.canonical_uri = "/";
    s.headers = {{":authority", "127.0.0.1:4567"}, {"content-type", "application/x-amz-json-1.1"}};
    s.payload_hash = sigv4::sha256_hex("{}");
    auto signed_req = sigv4::sign(s, {"AKIDOTHER", "othersecret", ""}, "us-east-1", "kinesis", now);
    request r;
    r.method = "POST";
    r.path = "/";
    r.host = "127.0.0.1:4567";
    r.headers = {{"content-type", "application/x-amz-json-1.1"}, {"x-amz-date", signed_req.amz_date}};
    r.amz_date = signed_req.amz_date;
    r.authorization = signed_req.authorization;
    r.body = "{}";
    auto verifier = suite_verifier();
    auto verdict = verifier.verify(r, now);
    EXPECT_FALSE(verdict.error) << verdict.error->message();
}

TEST(sigv4_verifier, a_date_header_stands_in_for_x_amz_date) {
    // The get-vanilla request with its time in a Date header, signed (as the
    // string to sign requires) with the basic ISO 8601 form of that time.
    sigv4::request s;
    s.method = "GET";
    s.canonical_uri = "/";
    s.headers = {{"host", "example.amazonaws.com"}, {"date", "Sun, 30 Aug 2015 12:36:00 GMT"}};
    s.payload_hash = std::string(sigv4::empty_payload_hash);
    const sigv4::credential_scope scope{"20150830", "us-east-1", "service"};
    const auto signature =
        sigv4::expected_signature(sigv4::canonical_request(s), "20150830T123600Z", scope, suite_secret);
    auto req = with_headers("GET", "/", {{"Host", "example.amazonaws.com"}, {"Date", "Sun, 30 Aug 2015 12:36:00 GMT"}},
                            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                            "SignedHeaders=date;host, Signature=" + signature);
    req.amz_date = "Sun, 30 Aug 2015 12:36:00 GMT";
    auto verifier = suite_verifier();
    auto verdict = verifier.verify(req, suite_time);
    EXPECT_FALSE(verdict.error) << verdict.error->message();
}
