#pragma once
// Checks the SigV4 signature of an inbound Kinesis or Firehose request
// against the keys of the credentials file, and tells who signed it. The
// canonical request, string to sign and signing key come from common/sigv4,
// the same functions the S3 uploader signs with, so that both directions
// agree by construction.
//
// Failures are AWS's: MissingAuthenticationTokenException,
// IncompleteSignatureException, InvalidSignatureException (mismatch, skew
// beyond five minutes) and UnrecognizedClientException (unknown key).
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/credentials_file.h"
#include "common/sigv4.h"
#include "http/request.h"
#include "kinesd/api_error.h"

namespace kinesd::auth {

struct verdict {
    const account_key* key = nullptr;  // set when the signature is good
    std::optional<api_error> error;    // set otherwise
    // The access key a refused request claimed, when it got as far as
    // naming one (for the audit log); empty otherwise.
    std::string claimed_access_key;
};

class sigv4_verifier {
public:
    explicit sigv4_verifier(std::vector<account_key> keys);

    // `now` is the wall clock: clients sign with theirs, whatever offset the
    // server's own clock runs with.
    verdict verify(const http::request& req, std::chrono::system_clock::time_point now) const;

    static constexpr std::chrono::minutes max_skew{5};

private:
    verdict verify_header(const http::request& req, const sigv4::query_params& query,
                          std::chrono::system_clock::time_point now) const;
    verdict verify_query(const http::request& req, const sigv4::query_params& query,
                         std::chrono::system_clock::time_point now) const;
    // Rebuilds what the client signed and compares signatures.
    verdict check_signature(const http::request& req, const std::string& access_key, const std::string& amz_date,
                  const sigv4::credential_scope& scope, const std::vector<std::string>& signed_headers,
                  const std::string& canonical_query, const std::string& payload_hash,
                  const std::string& signature, std::chrono::system_clock::time_point now) const;

    std::vector<account_key> keys_;
    std::unordered_map<std::string, const account_key*> by_access_key_;
    mutable sigv4::signing_key_cache signing_keys_;
};

// "20150830T123600Z" or an HTTP date ("Sun, 30 Aug 2015 12:36:00 GMT").
std::optional<std::chrono::system_clock::time_point> parse_request_date(std::string_view text);

}  // namespace kinesd::auth
