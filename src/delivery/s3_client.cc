#include "delivery/s3_client.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#ifdef KINESD_S3_TLS
#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#endif

namespace kinesd::delivery {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct s3_client::exchange {
    std::string method;
    std::string_view bucket;
    std::string_view key;  // decoded; empty for bucket-level operations
    sigv4::query_params query;
    std::string_view body;
    std::vector<sigv4::header> headers;  // sent and signed besides the standard ones
    std::size_t body_limit = mebibyte;
    // CompleteMultipartUpload can fail after its 200 status line has gone
    // out; S3 then sends an <Error> document as the body.
    bool error_body_on_success = false;

    int status = 0;
    std::string response_body;
    std::string etag;
    std::string content_encoding;
};

namespace {

constexpr std::string_view xml_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

std::string base64(const unsigned char* bytes, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string content_md5(std::string_view body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(body.data(), body.size(), digest, &size, EVP_md5(), nullptr) != 1) {
        throw std::runtime_error("MD5 failed");
    }
    return base64(digest, size);
}

std::string decode_xml_entities(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '&') {
            out += text[i];
            continue;
        }
        std::size_t semi = text.find(';', i);
        if (semi == std::string_view::npos) {
            out += text.substr(i);
            break;
        }
        std::string_view entity = text.substr(i + 1, semi - i - 1);
        if (entity == "amp") out += '&';
        else if (entity == "lt") out += '<';
        else if (entity == "gt") out += '>';
        else if (entity == "quot") out += '"';
        else if (entity == "apos") out += '\'';
        else if (!entity.empty() && entity[0] == '#') {
            unsigned long code = 0;
            try {
                code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                           ? std::stoul(std::string(entity.substr(2)), nullptr, 16)
                           : std::stoul(std::string(entity.substr(1)), nullptr, 10);
            } catch (const std::exception&) {
                out += text.substr(i, semi - i + 1);
                i = semi;
                continue;
            }
            // UTF-8 encode the code point.
            if (code < 0x80) {
                out += static_cast<char>(code);
            } else if (code < 0x800) {
                out += static_cast<char>(0xc0 | (code >> 6));
                out += static_cast<char>(0x80 | (code & 0x3f));
            } else if (code < 0x10000) {
                out += static_cast<char>(0xe0 | (code >> 12));
                out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
                out += static_cast<char>(0x80 | (code & 0x3f));
            } else {
                out += static_cast<char>(0xf0 | (code >> 18));
                out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
                out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
                out += static_cast<char>(0x80 | (code & 0x3f));
            }
        } else {
            out += text.substr(i, semi - i + 1);
        }
        i = semi;
    }
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            default: out += c;
        }
    }
    return out;
}

bool is_retryable_code(std::string_view code) {
    static constexpr std::string_view codes[] = {
        "SlowDown",         "RequestTimeout",  "InternalError",        "ServiceUnavailable",
        "Throttling",       "ThrottlingException", "RequestThrottled", "TooManyRequests",
        "RequestTimeTooSkewed", "OperationAborted"};
    return std::find(std::begin(codes), std::end(codes), code) != std::end(codes);
}

s3_result transport_failure(const beast::error_code& ec, std::string_view step) {
    s3_result r;
    r.outcome = s3_outcome::retryable;
    const bool timed_out = ec == beast::error::timeout || ec == net::error::timed_out;
    r.code = timed_out ? "RequestTimeout" : "ConnectionError";
    r.message = std::string(step) + ": " + ec.message();
    return r;
}

s3_result permanent(std::string code, std::string message) {
    s3_result r;
    r.outcome = s3_outcome::permanent;
    r.code = std::move(code);
    r.message = std::move(message);
    return r;
}

// Runs the context until the operation started on it has completed.
void wait(net::io_context& ioc) {
    ioc.run();
    ioc.restart();
}

using request_type = http::request<http::span_body<const char>>;
using parser_type = http::response_parser<http::string_body>;

// Sends the request and reads the response over a connected stream (plain
// TCP or TLS), each step bounded by the deadline.
template <class Stream>
beast::error_code write_and_read(net::io_context& ioc, Stream& stream, beast::tcp_stream& lowest,
                                 request_type& req, parser_type& parser,
                                 std::chrono::steady_clock::time_point deadline, std::string_view& step) {
    beast::error_code ec;
    step = "sending the request";
    lowest.expires_at(deadline);
    http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
    wait(ioc);
    if (ec) return ec;
    step = "reading the response";
    beast::flat_buffer buffer;
    lowest.expires_at(deadline);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    wait(ioc);
    return ec;
}

}  // namespace

bool parse_s3_endpoint(std::string_view url, s3_client::endpoint& out) {
    out = {};
    std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return false;
    std::string_view scheme = url.substr(0, scheme_end);
    if (scheme == "http") out.tls = false;
    else if (scheme == "https") out.tls = true;
    else return false;
    std::string_view rest = url.substr(scheme_end + 3);
    std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string_view::npos) return false;

    std::string_view host = authority;
    std::string_view port;
    if (authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return false;
            port = after.substr(1);
        }
    } else {
        std::size_t colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
    }
    if (host.empty()) return false;
    if (!port.empty() && !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
    }
    out.host = std::string(host);
    out.port = port.empty() ? (out.tls ? "443" : "80") : std::string(port);
    // The Host header must be exactly what was signed; keep the authority as
    // written.
    out.host_header = std::string(authority);
    return true;
}

std::string s3_xml_value(std::string_view xml, std::string_view tag) {
    std::string open = "<" + std::string(tag) + ">";
    std::string close = "</" + std::string(tag) + ">";
    std::size_t start = xml.find(open);
    if (start == std::string_view::npos) return "";
    start += open.size();
    std::size_t end = xml.find(close, start);
    if (end == std::string_view::npos) return "";
    return decode_xml_entities(xml.substr(start, end - start));
}

s3_client::s3_client(s3_config config, clock_function now) : config_(std::move(config)), now_(std::move(now)) {
    if (config_.endpoint.empty()) {
        endpoint_.tls = true;
        endpoint_.host = "s3." + config_.region + ".amazonaws.com";
        endpoint_.port = "443";
        endpoint_.host_header = endpoint_.host;
        endpoint_.virtual_hosted = true;
    } else if (parse_s3_endpoint(config_.endpoint, endpoint_)) {
        endpoint_.virtual_hosted = !config_.path_style;
    } else {
        endpoint_error_ = "cannot parse the S3 endpoint '" + config_.endpoint + "'";
    }
}

std::size_t s3_client::part_size_for(std::size_t body_size) const {
    std::size_t part = std::max(config_.part_size, s3_min_part_size);
    std::size_t needed = (body_size + s3_max_parts - 1) / s3_max_parts;
    return std::max(part, needed);
}

s3_result s3_client::send(exchange& x) const {
    if (!endpoint_error_.empty()) return permanent("InvalidEndpoint", endpoint_error_);
#ifndef KINESD_S3_TLS
    if (endpoint_.tls) {
        return permanent("TlsUnavailable", "this build has no TLS support for https S3 endpoints");
    }
#endif

    // Bucket names with dots break virtual-hosted TLS names; path style works
    // for them everywhere.
    const bool virtual_hosted =
        endpoint_.virtual_hosted && !x.bucket.empty() && x.bucket.find('.') == std::string_view::npos;
    std::string connect_host = endpoint_.host;
    std::string host_header = endpoint_.host_header;
    std::string path;
    if (virtual_hosted) {
        connect_host = std::string(x.bucket) + "." + connect_host;
        host_header = std::string(x.bucket) + "." + host_header;
        path = "/" + std::string(x.key);
    } else {
        path = "/" + std::string(x.bucket);
        if (!x.key.empty()) path += "/" + std::string(x.key);
    }

    // One encoding feeds both the signature and the request line.
    sigv4::request to_sign;
    to_sign.method = x.method;
    to_sign.canonical_uri = sigv4::canonical_uri(path, sigv4::uri_style::s3);
    to_sign.canonical_query = sigv4::canonical_query(x.query);
    to_sign.payload_hash = sigv4::sha256_hex(x.body);
    to_sign.headers = {{"host", host_header}, {"x-amz-content-sha256", to_sign.payload_hash}};
    if (!x.body.empty()) to_sign.headers.push_back({"content-md5", content_md5(x.body)});
    for (const auto& h : x.headers) to_sign.headers.push_back(h);
    sigv4::signed_request signature =
        sigv4::sign(to_sign, config_.credentials, config_.region, "s3", now_(), &keys_);

    request_type req;
    req.method(http::string_to_verb(x.method));
    req.target(to_sign.canonical_query.empty() ? to_sign.canonical_uri
                                               : to_sign.canonical_uri + "?" + to_sign.canonical_query);
    req.version(11);
    for (const auto& h : to_sign.headers) req.set(h.name, h.value);
    req.set(http::field::authorization, signature.authorization);
    req.set(http::field::user_agent, "kinesd");
    req.body() = beast::span<const char>(x.body.data(), x.body.size());
    req.keep_alive(false);
    req.prepare_payload();

    const auto deadline = std::chrono::steady_clock::now() + config_.request_timeout;
    const auto connect_deadline =
        std::min(deadline, std::chrono::steady_clock::now() + config_.connect_timeout);
    net::io_context ioc;
    beast::error_code ec;

    tcp::resolver resolver(ioc);
    tcp::resolver::results_type addresses;
    bool resolved = false;
    resolver.async_resolve(connect_host, endpoint_.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               addresses = std::move(r);
                               resolved = true;
                           });
    ioc.run_until(connect_deadline);
    if (!resolved) {
        resolver.cancel();
        ioc.run();
        ec = net::error::timed_out;
    }
    ioc.restart();
    if (ec) return transport_failure(ec, "resolving " + connect_host);

    beast::tcp_stream stream(ioc);
    stream.expires_at(connect_deadline);
    stream.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    wait(ioc);
    if (ec) return transport_failure(ec, "connecting to " + connect_host + ":" + endpoint_.port);

    parser_type parser;
    parser.body_limit(x.body_limit);
    std::string_view step;

    if (!endpoint_.tls) {
        ec = write_and_read(ioc, stream, stream, req, parser, deadline, step);
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    } else {
#ifdef KINESD_S3_TLS
        net::ssl::context tls(net::ssl::context::tls_client);
        if (config_.verify_tls) {
            if (config_.ca_file.empty()) tls.set_default_verify_paths(ec);
            else tls.load_verify_file(config_.ca_file, ec);
            if (ec) return permanent("TlsConfiguration", "loading trusted certificates: " + ec.message());
            tls.set_verify_mode(net::ssl::verify_peer);
        } else {
            tls.set_verify_mode(net::ssl::verify_none);
        }
        beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), tls);
        if (config_.verify_tls) secure.set_verify_callback(net::ssl::host_name_verification(connect_host));
        // SNI, so that virtual-hosted S3 and shared front ends pick the right certificate.
        if (!SSL_set_tlsext_host_name(secure.native_handle(), connect_host.c_str())) {
            return permanent("TlsConfiguration", "cannot set the TLS server name");
        }
        beast::get_lowest_layer(secure).expires_at(deadline);
        secure.async_handshake(net::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        wait(ioc);
        if (ec) {
            s3_result r = transport_failure(ec, "TLS handshake with " + connect_host);
            // A certificate the client does not trust will not fix itself.
            if (ec.category() == net::error::get_ssl_category()) r.outcome = s3_outcome::permanent;
            return r;
        }
        ec = write_and_read(ioc, secure, beast::get_lowest_layer(secure), req, parser, deadline, step);
        beast::error_code ignored;
        beast::get_lowest_layer(secure).socket().shutdown(tcp::socket::shutdown_both, ignored);
#endif
    }
    if (ec == http::error::body_limit) {
        return permanent("ResponseTooLarge", "the response body is larger than " + std::to_string(x.body_limit) +
                                                 " bytes");
    }
    if (ec) return transport_failure(ec, step);

    auto& res = parser.get();
    x.status = static_cast<int>(res.result_int());
    x.response_body = std::move(res.body());
    x.etag = std::string(res[http::field::etag]);
    x.content_encoding = std::string(res[http::field::content_encoding]);

    s3_result r;
    r.http_status = x.status;
    const bool success_status = x.status >= 200 && x.status < 300;
    const bool error_body = x.response_body.find("<Error>") != std::string::npos;
    if (success_status && !(x.error_body_on_success && error_body)) {
        r.etag = x.etag;
        return r;
    }
    r.code = s3_xml_value(x.response_body, "Code");
    r.message = s3_xml_value(x.response_body, "Message");
    if (r.code.empty()) r.code = std::string(res.reason().empty() ? "HttpError" : res.reason());
    if (r.message.empty()) r.message = "HTTP " + std::to_string(x.status);
    const bool retryable = x.status >= 500 || x.status == 429 || is_retryable_code(r.code);
    r.outcome = retryable ? s3_outcome::retryable : s3_outcome::permanent;
    return r;
}

s3_result s3_client::put_object(std::string_view bucket, std::string_view key, std::string_view body,
                                std::string_view content_type, std::string_view content_encoding) {
    if (body.size() > config_.multipart_threshold) {
        return put_object_multipart(bucket, key, body, content_type, content_encoding);
    }
    return put_object_single(bucket, key, body, content_type, content_encoding);
}

namespace {

std::vector<sigv4::header> object_headers(std::string_view content_type, std::string_view content_encoding) {
    std::vector<sigv4::header> headers;
    if (!content_type.empty()) headers.push_back({"content-type", std::string(content_type)});
    if (!content_encoding.empty()) headers.push_back({"content-encoding", std::string(content_encoding)});
    return headers;
}

}  // namespace

s3_result s3_client::put_object_single(std::string_view bucket, std::string_view key, std::string_view body,
                                       std::string_view content_type, std::string_view content_encoding) {
    exchange x;
    x.method = "PUT";
    x.bucket = bucket;
    x.key = key;
    x.body = body;
    x.headers = object_headers(content_type, content_encoding);
    return send(x);
}

s3_result s3_client::put_object_multipart(std::string_view bucket, std::string_view key, std::string_view body,
                                          std::string_view content_type, std::string_view content_encoding) {
    exchange create;
    create.method = "POST";
    create.bucket = bucket;
    create.key = key;
    create.query = {{"uploads", ""}};
    create.headers = object_headers(content_type, content_encoding);
    s3_result r = send(create);
    if (!r.ok()) return r;
    const std::string upload_id = s3_xml_value(create.response_body, "UploadId");
    if (upload_id.empty()) {
        r.outcome = s3_outcome::retryable;
        r.code = "InvalidResponse";
        r.message = "CreateMultipartUpload answered without an UploadId";
        return r;
    }

    auto abort_upload = [&] {
        exchange abort;
        abort.method = "DELETE";
        abort.bucket = bucket;
        abort.key = key;
        abort.query = {{"uploadId", upload_id}};
        send(abort);  // best effort: the caller reports the original failure
    };

    const std::size_t part_size = part_size_for(body.size());
    std::string complete_xml = "<CompleteMultipartUpload xmlns=\"" + std::string(xml_namespace) + "\">";
    std::size_t part_number = 1;
    for (std::size_t offset = 0; offset < body.size() || part_number == 1; offset += part_size, ++part_number) {
        exchange part;
        part.method = "PUT";
        part.bucket = bucket;
        part.key = key;
        part.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
        part.body = body.substr(offset, std::min(part_size, body.size() - std::min(offset, body.size())));
        s3_result pr = send(part);
        if (pr.ok() && part.etag.empty()) {
            pr.outcome = s3_outcome::retryable;
            pr.code = "InvalidResponse";
            pr.message = "UploadPart answered without an ETag";
        }
        if (!pr.ok()) {
            abort_upload();
            pr.message = "part " + std::to_string(part_number) + ": " + pr.message;
            return pr;
        }
        complete_xml += "<Part><PartNumber>" + std::to_string(part_number) + "</PartNumber><ETag>" +
                        xml_escape(part.etag) + "</ETag></Part>";
        if (body.empty()) break;
    }
    complete_xml += "</CompleteMultipartUpload>";

    exchange complete;
    complete.method = "POST";
    complete.bucket = bucket;
    complete.key = key;
    complete.query = {{"uploadId", upload_id}};
    complete.body = complete_xml;
    complete.headers = {{"content-type", "application/xml"}};
    complete.error_body_on_success = true;
    r = send(complete);
    if (!r.ok()) {
        abort_upload();
        return r;
    }
    r.etag = s3_xml_value(complete.response_body, "ETag");
    return r;
}

s3_result s3_client::create_bucket(std::string_view bucket) {
    exchange x;
    x.method = "PUT";
    x.bucket = bucket;
    // us-east-1 is the one region that refuses an explicit location.
    std::string configuration;
    if (config_.region != "us-east-1") {
        configuration = "<CreateBucketConfiguration xmlns=\"" + std::string(xml_namespace) +
                        "\"><LocationConstraint>" + xml_escape(config_.region) +
                        "</LocationConstraint></CreateBucketConfiguration>";
        x.body = configuration;
        x.headers = {{"content-type", "application/xml"}};
    }
    return send(x);
}

s3_result s3_client::get_object(std::string_view bucket, std::string_view key, std::string& body,
                                std::string* content_encoding) {
    exchange x;
    x.method = "GET";
    x.bucket = bucket;
    x.key = key;
    x.body_limit = config_.max_response_body;
    s3_result r = send(x);
    if (r.ok()) {
        body = std::move(x.response_body);
        if (content_encoding != nullptr) *content_encoding = x.content_encoding;
    }
    return r;
}

s3_result s3_client::list_objects_v2(std::string_view bucket, std::string_view prefix,
                                     std::vector<std::string>& keys) {
    exchange x;
    x.method = "GET";
    x.bucket = bucket;
    x.query = {{"list-type", "2"}};
    if (!prefix.empty()) x.query.push_back({"prefix", std::string(prefix)});
    x.body_limit = 64 * mebibyte;
    s3_result r = send(x);
    if (!r.ok()) return r;
    keys.clear();
    std::string_view xml = x.response_body;
    for (std::size_t pos = xml.find("<Contents>"); pos != std::string_view::npos;
         pos = xml.find("<Contents>", pos + 1)) {
        std::size_t end = xml.find("</Contents>", pos);
        keys.push_back(s3_xml_value(xml.substr(pos, end == std::string_view::npos ? xml.npos : end - pos), "Key"));
    }
    return r;
}

}  // namespace kinesd::delivery
