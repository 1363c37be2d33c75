#include "common/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace sigv4 = kinesd::sigv4;

namespace {

// The worked examples of the AWS documentation: the IAM one ("Create a signed
// AWS API request", General Reference) and the S3 ones ("Examples: Signature
// Calculations in AWS Signature Version 4", S3 API Reference).
constexpr const char* iam_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr const char* s3_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* s3_host = "examplebucket.s3.amazonaws.com";
const std::string empty_hash(sigv4::empty_payload_hash);

std::chrono::system_clock::time_point utc(int year, unsigned month, unsigned day, int hour, int minute,
                                          int second) {
    using namespace std::chrono;
    return sys_days{std::chrono::year{year} / month / day} + hours{hour} + minutes{minute} +
           seconds{second};
}

sigv4::credential_scope s3_scope() { return {"20130524", "us-east-1", "s3"}; }

// Signs one of the S3 examples the long way, step by step.
struct s3_example_result {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;
};

s3_example_result sign_s3_example(const sigv4::request& req) {
    s3_example_result r;
    r.canonical_request = sigv4::canonical_request(req);
    r.string_to_sign = sigv4::string_to_sign("20130524T000000Z", s3_scope(), r.canonical_request);
    r.signature = sigv4::signature(sigv4::derive_signing_key(s3_secret, s3_scope()), r.string_to_sign);
    return r;
}

}  // namespace

TEST(sigv4, hashes_and_hex) {
    EXPECT_EQ(sigv4::sha256_hex(""), empty_hash);
    EXPECT_EQ(sigv4::sha256_hex("Welcome to Amazon S3."),
              "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    // RFC 4231 test case 2.
    EXPECT_EQ(sigv4::to_hex(sigv4::hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(sigv4, iam_list_users_example_step_by_step) {
    sigv4::request req;
    req.method = "GET";
    req.canonical_uri = sigv4::canonical_uri("/", sigv4::uri_style::other);
    req.canonical_query = sigv4::canonical_query({{"Version", "2010-05-08"}, {"Action", "ListUsers"}});
    req.headers = {{"Host", "iam.amazonaws.com"},
                   {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                   {"X-Amz-Date", "20150830T123600Z"}};
    req.payload_hash = empty_hash;

    std::string signed_headers;
    std::string creq = sigv4::canonical_request(req, &signed_headers);
    EXPECT_EQ(creq,
              "GET\n"
              "/\n"
              "Action=ListUsers&Version=2010-05-08\n"
              "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
              "host:iam.amazonaws.com\n"
              "x-amz-date:20150830T123600Z\n"
              "\n"
              "content-type;host;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(signed_headers, "content-type;host;x-amz-date");
    EXPECT_EQ(sigv4::sha256_hex(creq), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");

    sigv4::credential_scope scope{"20150830", "us-east-1", "iam"};
    EXPECT_EQ(scope.str(), "20150830/us-east-1/iam/aws4_request");
    std::string sts = sigv4::string_to_sign("20150830T123600Z", scope, creq);
    EXPECT_EQ(sts,
              "AWS4-HMAC-SHA256\n"
              "20150830T123600Z\n"
              "20150830/us-east-1/iam/aws4_request\n"
              "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");

    sigv4::digest key = sigv4::derive_signing_key(iam_secret, scope);
    EXPECT_EQ(sigv4::to_hex(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    EXPECT_EQ(sigv4::signature(key, sts), "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(sigv4, iam_list_users_example_through_sign) {
    sigv4::request req;
    req.method = "GET";
    req.canonical_uri = "/";
    req.canonical_query = "Action=ListUsers&Version=2010-05-08";
    req.headers = {{"content-type", "application/x-www-form-urlencoded; charset=utf-8"},
                   {"host", "iam.amazonaws.com"}};
    req.payload_hash = empty_hash;
    sigv4::credentials creds{"AKIDEXAMPLE", iam_secret, ""};

    sigv4::signed_request s = sigv4::sign(req, creds, "us-east-1", "iam", utc(2015, 8, 30, 12, 36, 0));
    EXPECT_EQ(s.amz_date, "20150830T123600Z");
    EXPECT_EQ(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
              "SignedHeaders=content-type;host;x-amz-date, "
              "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    // sign() added the date header it signed, for the caller to send.
    ASSERT_EQ(req.headers.size(), 3u);
    EXPECT_EQ(req.headers.back().name, "x-amz-date");
    EXPECT_EQ(req.headers.back().value, "20150830T123600Z");
}

TEST(sigv4, signing_key_derivation_example) {
    sigv4::credential_scope scope{"20120215", "us-east-1", "iam"};
    EXPECT_EQ(sigv4::to_hex(sigv4::derive_signing_key(iam_secret, scope)),
              "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(sigv4, s3_get_object_example_with_range) {
    sigv4::request req;
    req.method = "GET";
    req.canonical_uri = sigv4::canonical_uri("/test.txt", sigv4::uri_style::s3);
    req.headers = {{"Host", s3_host},
                   {"Range", "bytes=0-9"},
                   {"x-amz-content-sha256", empty_hash},
                   {"x-amz-date", "20130524T000000Z"}};
    req.payload_hash = empty_hash;
    s3_example_result r = sign_s3_example(req);
    EXPECT_EQ(r.canonical_request,
              "GET\n"
              "/test.txt\n"
              "\n"
              "host:examplebucket.s3.amazonaws.com\n"
              "range:bytes=0-9\n"
              "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
              "x-amz-date:20130524T000000Z\n"
              "\n"
              "host;range;x-amz-content-sha256;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(r.string_to_sign,
              "AWS4-HMAC-SHA256\n"
              "20130524T000000Z\n"
              "20130524/us-east-1/s3/aws4_request\n"
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    EXPECT_EQ(r.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4, s3_get_object_example_through_sign) {
    sigv4::request req;
    req.method = "GET";
    req.canonical_uri = "/test.txt";
    req.headers = {{"host", s3_host}, {"range", "bytes=0-9"}, {"x-amz-content-sha256", empty_hash}};
    req.payload_hash = empty_hash;
    sigv4::credentials creds{"AKIAIOSFODNN7EXAMPLE", s3_secret, ""};
    sigv4::signing_key_cache cache;
    sigv4::signed_request s = sigv4::sign(req, creds, "us-east-1", "s3", utc(2013, 5, 24, 0, 0, 0), &cache);
    EXPECT_EQ(s.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4, s3_put_object_example_encodes_the_key_once) {
    const std::string body = "Welcome to Amazon S3.";
    const std::string body_hash = sigv4::sha256_hex(body);
    sigv4::request req;
    req.method = "PUT";
    req.canonical_uri = sigv4::canonical_uri("/test$file.text", sigv4::uri_style::s3);
    EXPECT_EQ(req.canonical_uri, "/test%24file.text");
    req.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                   {"Host", s3_host},
                   {"x-amz-content-sha256", body_hash},
                   {"x-amz-date", "20130524T000000Z"},
                   {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    req.payload_hash = body_hash;
    s3_example_result r = sign_s3_example(req);
    EXPECT_EQ(sigv4::sha256_hex(r.canonical_request),
              "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    EXPECT_EQ(r.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(sigv4, s3_get_bucket_lifecycle_and_list_objects_examples) {
    sigv4::request req;
    req.method = "GET";
    req.canonical_uri = "/";
    req.canonical_query = sigv4::canonical_query({{"lifecycle", ""}});
    EXPECT_EQ(req.canonical_query, "lifecycle=");
    req.headers = {{"Host", s3_host}, {"x-amz-content-sha256", empty_hash}, {"x-amz-date", "20130524T000000Z"}};
    req.payload_hash = empty_hash;
    EXPECT_EQ(sign_s3_example(req).signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

    req.canonical_query = sigv4::canonical_query({{"prefix", "J"}, {"max-keys", "2"}});
    EXPECT_EQ(req.canonical_query, "max-keys=2&prefix=J");
    EXPECT_EQ(sign_s3_example(req).signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

// Vectors of the AWS SigV4 test suite (service "service", us-east-1).
TEST(sigv4, test_suite_vanilla_requests) {
    sigv4::credentials creds{"AKIDEXAMPLE", iam_secret, ""};
    auto sign_suite = [&](const std::string& method, const sigv4::query_params& query) {
        sigv4::request req;
        req.method = method;
        req.canonical_uri = sigv4::canonical_uri("/", sigv4::uri_style::other);
        req.canonical_query = sigv4::canonical_query(query);
        req.headers = {{"Host", "example.amazonaws.com"}};
        req.payload_hash = empty_hash;
        return sigv4::sign(req, creds, "us-east-1", "service", utc(2015, 8, 30, 12, 36, 0));
    };
    sigv4::signed_request get = sign_suite("GET", {});
    EXPECT_EQ(get.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    EXPECT_EQ(sign_suite("POST", {}).signature,
              "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    EXPECT_EQ(sign_suite("GET", {{"Param2", "value2"}, {"Param1", "value1"}}).signature,
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(sigv4, session_token_is_signed) {
    sigv4::request req;
    req.method = "PUT";
    req.canonical_uri = "/b/k";
    req.headers = {{"host", "127.0.0.1:9000"}};
    req.payload_hash = empty_hash;
    sigv4::credentials creds{"AKID", "secret", "token/with+chars="};
    sigv4::signed_request s = sigv4::sign(req, creds, "us-east-1", "s3", utc(2024, 1, 2, 3, 4, 5));
    EXPECT_NE(s.authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos)
        << s.authorization;
    EXPECT_NE(s.canonical_request.find("\nx-amz-security-token:token/with+chars=\n"), std::string::npos);
    EXPECT_EQ(s.amz_date, "20240102T030405Z");
}

TEST(sigv4, uri_encoding) {
    EXPECT_EQ(sigv4::uri_encode("AZaz09-._~", false), "AZaz09-._~");
    EXPECT_EQ(sigv4::uri_encode("a b+c=d:e/f", false), "a%20b%2Bc%3Dd%3Ae%2Ff");
    EXPECT_EQ(sigv4::uri_encode("a b/c", true), "a%20b/c");
    EXPECT_EQ(sigv4::uri_encode("\xc3\xa9*", false), "%C3%A9%2A");

    // S3: once, no normalisation.
    EXPECT_EQ(sigv4::canonical_uri("/bucket/a//b/./c d=1:2", sigv4::uri_style::s3),
              "/bucket/a//b/./c%20d%3D1%3A2");
    // Other services: normalised, then encoded twice.
    EXPECT_EQ(sigv4::canonical_uri("/a//b/./c/../d e/", sigv4::uri_style::other), "/a/b/d%2520e/");
    EXPECT_EQ(sigv4::canonical_uri("", sigv4::uri_style::other), "/");
    EXPECT_EQ(sigv4::canonical_uri("/..", sigv4::uri_style::other), "/");

    EXPECT_EQ(sigv4::canonical_query({{"uploadId", "a/b+c=="}, {"partNumber", "3"}}),
              "partNumber=3&uploadId=a%2Fb%2Bc%3D%3D");
    EXPECT_EQ(sigv4::canonical_query({{"b", "2"}, {"a", "z"}, {"a", "y"}}), "a=y&a=z&b=2");
    EXPECT_EQ(sigv4::canonical_query({}), "");
}

TEST(sigv4, header_canonicalisation) {
    sigv4::canonical_headers h = sigv4::canonicalize_headers(
        {{"X-Amz-Meta-B", "  two   words  "}, {"Host", "h"}, {"x-amz-meta-a", "1"}, {"X-AMZ-META-A", "2"}});
    EXPECT_EQ(h.block, "host:h\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n");
    EXPECT_EQ(h.signed_headers, "host;x-amz-meta-a;x-amz-meta-b");
}

TEST(sigv4, date_formats) {
    auto t = utc(2018, 8, 27, 10, 30, 5) + std::chrono::milliseconds(999);
    EXPECT_EQ(sigv4::format_amz_date(t), "20180827T103005Z");
    EXPECT_EQ(sigv4::format_date_stamp(t), "20180827");
}

TEST(sigv4, signing_key_cache_matches_derivation) {
    sigv4::signing_key_cache cache;
    sigv4::credential_scope a{"20150830", "us-east-1", "iam"};
    sigv4::credential_scope b{"20150831", "us-east-1", "iam"};
    EXPECT_EQ(cache.get(iam_secret, a), sigv4::derive_signing_key(iam_secret, a));
    EXPECT_EQ(cache.get(iam_secret, a), sigv4::derive_signing_key(iam_secret, a));
    EXPECT_EQ(cache.get(iam_secret, b), sigv4::derive_signing_key(iam_secret, b));
    EXPECT_NE(cache.get("other", a), cache.get(iam_secret, a));
}

TEST(sigv4, expected_signature_verifies_and_rejects) {
    std::string creq =
        "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
        "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
        "host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "content-type;host;x-amz-date\n" +
        empty_hash;
    sigv4::credential_scope scope{"20150830", "us-east-1", "iam"};
    std::string sig = sigv4::expected_signature(creq, "20150830T123600Z", scope, iam_secret);
    EXPECT_TRUE(sigv4::signatures_equal(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"));
    EXPECT_FALSE(sigv4::signatures_equal(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d8"));
    EXPECT_FALSE(sigv4::signatures_equal(sig, sig.substr(1)));
    EXPECT_NE(sigv4::expected_signature(creq, "20150830T123600Z", scope, "wrong"), sig);
}

TEST(sigv4, parses_a_complete_authorization_header) {
    const std::string header =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    sigv4::authorization a = sigv4::parse_authorization(header);
    EXPECT_EQ(a.algorithm, "AWS4-HMAC-SHA256");
    EXPECT_TRUE(a.has_credential && a.has_signed_headers && a.has_signature);
    EXPECT_TRUE(a.credential_well_formed);
    EXPECT_EQ(a.access_key, "AKIDEXAMPLE");
    EXPECT_EQ(a.scope.date, "20150830");
    EXPECT_EQ(a.scope.region, "us-east-1");
    EXPECT_EQ(a.scope.service, "kinesis");
    EXPECT_EQ(a.terminator, "aws4_request");
    EXPECT_EQ(a.signed_headers, (std::vector<std::string>{"content-type", "host", "x-amz-date", "x-amz-target"}));
    EXPECT_EQ(a.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
    EXPECT_EQ(sigv4::incomplete_signature_message(a, true, header), "");
    // Without commas, as some hand-written clients send it.
    sigv4::authorization b = sigv4::parse_authorization(
        "AWS4-HMAC-SHA256 Credential=A/d/r/s/aws4_request SignedHeaders=host Signature=ab");
    EXPECT_TRUE(b.has_credential && b.has_signed_headers && b.has_signature);
    EXPECT_EQ(b.signature, "ab");
}

TEST(sigv4, reports_missing_parts_in_aws_order) {
    const std::string header = "AWS4-HMAC-SHA256 SignedHeaders=host";
    sigv4::authorization a = sigv4::parse_authorization(header);
    EXPECT_FALSE(a.has_credential);
    EXPECT_TRUE(a.has_signed_headers);
    EXPECT_FALSE(a.has_signature);
    EXPECT_EQ(sigv4::incomplete_signature_message(a, false, header),
              "Authorization header requires 'Credential' parameter. "
              "Authorization header requires 'Signature' parameter. "
              "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
              "Authorization=AWS4-HMAC-SHA256 SignedHeaders=host");

    sigv4::authorization bare = sigv4::parse_authorization("foo");
    EXPECT_EQ(bare.algorithm, "foo");
    EXPECT_EQ(sigv4::incomplete_signature_message(bare, true, "foo"),
              "Authorization header requires 'Credential' parameter. "
              "Authorization header requires 'Signature' parameter. "
              "Authorization header requires 'SignedHeaders' parameter. "
              "Authorization=foo");

    // An empty value counts as missing; a credential with too few parts is
    // present but not well formed.
    sigv4::authorization c =
        sigv4::parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/20150830, SignedHeaders=, Signature=x");
    EXPECT_TRUE(c.has_credential);
    EXPECT_FALSE(c.credential_well_formed);
    EXPECT_EQ(c.access_key, "AKID");
    EXPECT_FALSE(c.has_signed_headers);
    EXPECT_TRUE(c.has_signature);
}
