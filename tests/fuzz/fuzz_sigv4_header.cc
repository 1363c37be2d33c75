// SigV4 as a verifier meets it: an Authorization header from the wire, and
// the canonical request rebuilt from fuzzed headers, paths and queries.
//
// Input layout: the first line is the Authorization header value; the next
// line is the path; the line after is the query ("a=b&c"); every further
// line is a "name:value" header.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/sigv4.h"

namespace {

using namespace kinesd::sigv4;

[[noreturn]] void finding(const char* what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

std::string_view next_line(std::string_view& text) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return line;
}

bool is_encoded(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '_' || c == '.' || c == '~' || c == '/';
        if (plain) continue;
        if (c != '%' || i + 2 >= s.size()) return false;
        for (int k = 1; k <= 2; ++k) {
            char h = s[i + k];
            if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'))) return false;
        }
        i += 2;
    }
    return true;
}

// RFC 9110 token characters: what a header name can be on the wire.
bool is_token(std::string_view name) {
    if (name.empty()) return false;
    for (unsigned char c : name) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

void check_authorization(std::string_view value) {
    authorization auth = parse_authorization(value);
    for (const auto& h : auth.signed_headers)
        if (h.empty() || h.find(';') != std::string::npos) finding("signed header name empty or holds ';'");
    if (auth.credential_well_formed) {
        std::string rebuilt = auth.access_key + "/" + auth.scope.str();
        // str() appends the fixed terminator; the parsed one may differ.
        if (auth.terminator == "aws4_request" && rebuilt != auth.credential)
            finding("credential scope does not rebuild the credential");
    }
    for (bool has_date : {false, true}) {
        std::string message = incomplete_signature_message(auth, has_date, value);
        bool complete = auth.has_credential && auth.has_signature && auth.has_signed_headers && has_date;
        if (complete != message.empty()) finding("incomplete-signature message disagrees with the parse");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string_view auth_value = next_line(text);
    check_authorization(auth_value);

    std::string_view path = next_line(text);
    std::string_view query = next_line(text);
    std::vector<header> headers;
    while (!text.empty()) {
        std::string_view line = next_line(text);
        auto colon = line.find(':');
        if (!is_token(line.substr(0, colon))) continue;
        headers.push_back({std::string(line.substr(0, colon)),
                           colon == std::string_view::npos ? std::string() : std::string(line.substr(colon + 1))});
    }

    for (auto style : {uri_style::s3, uri_style::other}) {
        std::string uri = canonical_uri(path, style);
        if (uri.empty() || !is_encoded(uri)) finding("canonical URI is not URI-encoded");
    }

    query_params params;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
        auto eq = pair.find('=');
        params.emplace_back(std::string(pair.substr(0, eq)),
                            eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
    }

    request req;
    req.method = "POST";
    req.canonical_uri = canonical_uri(path, uri_style::other);
    req.canonical_query = canonical_query(params);
    req.headers = headers;
    req.payload_hash = std::string(empty_payload_hash);
    std::string signed_headers;
    std::string text_form = canonical_request(req, &signed_headers);
    auto canon = canonicalize_headers(headers);
    if (signed_headers != canon.signed_headers) finding("signed header lists disagree");

    // Signing and verifying the same request must agree.
    credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", {}};
    auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
    request signed_req = req;
    // A cache, as the server would use: key derivation would otherwise be
    // most of the time per input.
    static signing_key_cache cache;
    signed_request s = sign(signed_req, creds, "us-east-1", "kinesis", when, &cache);
    std::string again = canonical_request(signed_req);
    if (again != s.canonical_request) finding("canonical request is not a function of the request");
    credential_scope scope{format_date_stamp(when), "us-east-1", "kinesis"};
    if (!signatures_equal(expected_signature(s.canonical_request, s.amz_date, scope, creds.secret_key, &cache), s.signature))
        finding("verifier and signer disagree");
    // The header we produce must parse as complete.
    authorization back = parse_authorization(s.authorization);
    if (!back.credential_well_formed || back.signature != s.signature || back.signed_headers_text.empty())
        finding("our own Authorization header does not parse");
    return 0;
}
