#pragma once
// A small synchronous S3 client for Firehose delivery. It blocks the calling
// thread, so it belongs on delivery worker threads and never on the I/O
// threads that serve the API. Every call opens its own connection and owns
// its own I/O context, which makes one client safe to share between threads.
//
// Requests are signed with SigV4 (common/sigv4.h) and carry
// x-amz-content-sha256 (S3 requires it) and Content-MD5. Object keys are
// percent-encoded once, and the exact bytes that were signed are the bytes
// sent, so keys holding '=', ':', spaces or '/' (all common in Firehose
// prefixes) survive unchanged.
//
// Plain http:// endpoints always work. https:// needs the library built
// with KINESD_S3_TLS (which also links OpenSSL's libssl); without it an
// https endpoint fails every call with the permanent code "TlsUnavailable".
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sigv4.h"

namespace kinesd::delivery {

inline constexpr std::size_t mebibyte = 1024 * 1024;
// S3's smallest part size for every part but the last, and its part limit.
inline constexpr std::size_t s3_min_part_size = 5 * mebibyte;
inline constexpr std::size_t s3_max_parts = 10000;

struct s3_config {
    // "http://127.0.0.1:9000" and the like. Empty means AWS itself,
    // https://s3.<region>.amazonaws.com, addressed virtual-hosted style.
    std::string endpoint;
    std::string region = "us-east-1";
    sigv4::credentials credentials;
    // Path-style (`/<bucket>/<key>`) suits loopback and IP endpoints, where
    // `<bucket>.<host>` cannot resolve. Applies to custom endpoints only.
    bool path_style = true;
    std::chrono::milliseconds connect_timeout{10'000};
    // Upper bound for one whole HTTP exchange (connect, send, receive).
    std::chrono::milliseconds request_timeout{120'000};
    // Bodies larger than this go up as a multipart upload.
    std::size_t multipart_threshold = 16 * mebibyte;
    // Raised to s3_min_part_size, and further if the body would need more
    // than s3_max_parts parts.
    std::size_t part_size = 8 * mebibyte;
    // get_object refuses larger objects.
    std::size_t max_response_body = 256 * mebibyte;
    // https only: verify the server certificate against the system store,
    // or against ca_file when it is set.
    bool verify_tls = true;
    std::string ca_file;
};

enum class s3_outcome {
    ok,
    retryable,  // 5xx, SlowDown and throttling, timeouts, connection failures
    permanent,  // other 4xx and 3xx: configuration errors such as NoSuchBucket
};

struct s3_result {
    s3_outcome outcome = s3_outcome::ok;
    int http_status = 0;  // 0 when no response arrived
    // S3's error <Code>, or for failures without a response one of
    // "RequestTimeout", "ConnectionError", "TlsUnavailable", "InvalidEndpoint".
    std::string code;
    std::string message;
    std::string etag;  // of the object written, quotes included

    bool ok() const { return outcome == s3_outcome::ok; }
    bool retryable() const { return outcome == s3_outcome::retryable; }
};

class s3_client {
public:
    using clock_function = std::function<std::chrono::system_clock::time_point()>;

    // `now` supplies the signing time; it must be close to the real time
    // for AWS (S3 refuses requests more than 15 minutes off).
    explicit s3_client(s3_config config, clock_function now = &std::chrono::system_clock::now);

    // Writes one object, switching to a multipart upload above the
    // threshold. A failed multipart upload is aborted so that S3 does not
    // keep (and bill) its parts. content_encoding "" sends no header.
    s3_result put_object(std::string_view bucket, std::string_view key, std::string_view body,
                         std::string_view content_type = "application/octet-stream",
                         std::string_view content_encoding = "");

    // Single-request PutObject whatever the size (up to S3's 5 GiB).
    s3_result put_object_single(std::string_view bucket, std::string_view key, std::string_view body,
                                std::string_view content_type, std::string_view content_encoding);

    // CreateMultipartUpload, UploadPart for each part, CompleteMultipartUpload.
    s3_result put_object_multipart(std::string_view bucket, std::string_view key, std::string_view body,
                                   std::string_view content_type, std::string_view content_encoding);

    s3_result create_bucket(std::string_view bucket);

    // Reads a whole object. `content_encoding` (optional) receives the
    // object's Content-Encoding header.
    s3_result get_object(std::string_view bucket, std::string_view key, std::string& body,
                         std::string* content_encoding = nullptr);

    // The first page (up to 1,000 keys) of ListObjectsV2 under `prefix`.
    s3_result list_objects_v2(std::string_view bucket, std::string_view prefix, std::vector<std::string>& keys);

    // The part size put_object_multipart uses for a body of this size.
    std::size_t part_size_for(std::size_t body_size) const;

    struct endpoint {
        bool tls = false;
        std::string host;  // without brackets for IPv6 literals
        std::string port;
        std::string host_header;  // host[:port], port omitted when default
        bool virtual_hosted = false;
    };

private:
    struct exchange;
    s3_result send(exchange& x) const;

    s3_config config_;
    clock_function now_;
    endpoint endpoint_;
    std::string endpoint_error_;
    mutable sigv4::signing_key_cache keys_;
};

// Parses "http://host:port" (path and query are ignored). Returns false for
// anything that is not an http or https URL with a host.
bool parse_s3_endpoint(std::string_view url, s3_client::endpoint& out);

// Pulls the text of the first <tag>...</tag> out of an S3 XML document, with
// XML entities decoded; "" when absent.
std::string s3_xml_value(std::string_view xml, std::string_view tag);

}  // namespace kinesd::delivery
