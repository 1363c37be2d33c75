#pragma once
// AWS Signature Version 4: the one signer kinesd uses both to sign its own S3
// requests and to check the signatures on Kinesis/Firehose requests it
// receives. Every step of the algorithm is a separate function so that tests
// can compare each intermediate string with the AWS documentation's worked
// examples byte for byte.
//
// Nothing here reads a clock: the request time is always a parameter.
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kinesd::sigv4 {

inline constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
// hex SHA-256 of zero bytes: the payload hash of every bodiless request.
inline constexpr std::string_view empty_payload_hash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token;  // empty when the credentials are long-lived
};

using digest = std::array<unsigned char, 32>;

digest sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
digest hmac_sha256(std::string_view key, std::string_view data);
std::string to_hex(const unsigned char* bytes, std::size_t size);
inline std::string to_hex(const digest& d) { return to_hex(d.data(), d.size()); }

// SigV4 "URI encoding": every byte except A-Z a-z 0-9 - _ . ~ becomes %XX
// with upper-case hex. '/' is kept only when keep_slash is set (paths);
// query names and values always encode it.
std::string uri_encode(std::string_view text, bool keep_slash);

// S3 signs the object path encoded exactly once and never normalises it
// ("a//b", "./" stay as they are). Every other service encodes the path a
// second time (so '%' in the wire form becomes "%25") after removing "."
// and ".." segments and duplicate slashes.
enum class uri_style { s3, other };

// `path` is the decoded path ("/bucket/my key=1"); an empty path means "/".
std::string canonical_uri(std::string_view path, uri_style style);

// Query parameters as decoded name/value pairs, in any order. Both parts are
// encoded and the pairs sorted by encoded name, then value; a parameter with
// no value still gets '=' ("uploads="). The result is also the exact query
// string to put on the wire, so what is sent is what was signed.
using query_params = std::vector<std::pair<std::string, std::string>>;
std::string canonical_query(const query_params& params);

struct header {
    std::string name;
    std::string value;
};

struct canonical_headers {
    std::string block;           // "name:value\n" lines, sorted by name
    std::string signed_headers;  // "host;x-amz-date"
};

// Lower-cases names, trims values and collapses inner runs of spaces, joins
// repeated headers with ',' in the order given, and sorts by name.
canonical_headers canonicalize_headers(const std::vector<header>& headers);

struct request {
    std::string method;
    std::string canonical_uri;    // from canonical_uri()
    std::string canonical_query;  // from canonical_query(), or "" for none
    std::vector<header> headers;  // exactly the headers to sign; include host
    std::string payload_hash;     // hex SHA-256 of the body, or e.g. "UNSIGNED-PAYLOAD"
};

// The canonical request text; signed_headers (optional) receives the
// ';'-joined list that the Authorization header must repeat.
std::string canonical_request(const request& req, std::string* signed_headers = nullptr);

struct credential_scope {
    std::string date;  // yyyymmdd
    std::string region;
    std::string service;

    // "<date>/<region>/<service>/aws4_request"
    std::string str() const;
};

std::string string_to_sign(std::string_view amz_date, const credential_scope& scope,
                           std::string_view canonical_request_text);

digest derive_signing_key(std::string_view secret_key, const credential_scope& scope);
std::string signature(const digest& signing_key, std::string_view string_to_sign_text);

// yyyymmddTHHMMSSZ and yyyymmdd, UTC, for the given instant.
std::string format_amz_date(std::chrono::system_clock::time_point when);
std::string format_date_stamp(std::chrono::system_clock::time_point when);

// Signing keys change once a day per (secret, region, service), and deriving
// one costs four HMACs; verifying every inbound request would otherwise
// repeat that work. Thread-safe; it forgets everything when it grows past a
// small bound, which is cheap because entries are only a day's worth.
class signing_key_cache {
public:
    digest get(std::string_view secret_key, const credential_scope& scope);

private:
    static constexpr std::size_t max_entries = 256;
    std::mutex mutex_;
    std::unordered_map<std::string, digest> keys_;
};

struct signed_request {
    std::string amz_date;  // the value sent as X-Amz-Date
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;
    std::string authorization;  // the whole Authorization header value
};

// Signs `req` at `when`. It appends x-amz-date (and x-amz-security-token when
// the credentials carry one) to req.headers so that they are signed; the
// caller must send every header left in req.headers, with the same values.
// `cache` is optional.
signed_request sign(request& req, const credentials& creds, std::string_view region,
                    std::string_view service, std::chrono::system_clock::time_point when,
                    signing_key_cache* cache = nullptr);

// The signature a request should carry, for a verifier that has rebuilt the
// canonical request from what it received.
std::string expected_signature(std::string_view canonical_request_text, std::string_view amz_date,
                               const credential_scope& scope, std::string_view secret_key,
                               signing_key_cache* cache = nullptr);

// Compares two signatures in time independent of where they differ.
bool signatures_equal(std::string_view a, std::string_view b);

// An inbound `Authorization` header taken apart. Parsing never fails: absent
// parts are reported so that the caller can build AWS's
// IncompleteSignatureException text.
struct authorization {
    std::string algorithm;  // the first token, e.g. "AWS4-HMAC-SHA256"
    bool has_credential = false;
    bool has_signed_headers = false;
    bool has_signature = false;
    std::string credential;  // raw "AKID/20150830/us-east-1/kinesis/aws4_request"
    std::string access_key;
    credential_scope scope;
    std::string terminator;      // "aws4_request" when well formed
    bool credential_well_formed = false;  // exactly five '/'-separated parts
    std::vector<std::string> signed_headers;
    std::string signed_headers_text;  // as sent, "content-type;host;x-amz-date"
    std::string signature;
};

authorization parse_authorization(std::string_view header_value);

// AWS's IncompleteSignatureException message for a header missing parts, or
// "" when nothing is missing. has_date tells whether the request carried an
// X-Amz-Date or Date header. Parts are listed in AWS's order, each followed
// by ". ", then "Authorization=<header as sent>".
std::string incomplete_signature_message(const authorization& auth, bool has_date,
                                         std::string_view header_value);

}  // namespace kinesd::sigv4
