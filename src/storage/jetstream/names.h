#pragma once
// Every name the JetStream backend gives to things on the NATS side, in one
// place: shard streams and their subjects, the metadata bucket, and the
// reversible encoding of metadata keys into key-value keys.
#include <string>
#include <string_view>

namespace kinesd::storage::jetstream {

// A name token: JetStream stream and bucket names may not contain '.', '*',
// '>', whitespace or path separators; anything but [A-Za-z0-9_-] becomes '_'.
std::string name_token(std::string_view text);

// "<prefix>_<shard name>": the shard's stream.
std::string shard_stream_name(std::string_view prefix, std::string_view shard_name);
// "<prefix>.rec.<shard name>": where appends are published while the shard
// is open.
std::string shard_live_subject(std::string_view prefix, std::string_view shard_name);
// "<prefix>.closed.<shard name>": the stream's only subject once the shard
// is closed, so that a publish to the live subject finds no responder.
std::string shard_closed_subject(std::string_view prefix, std::string_view shard_name);
// "<prefix>_meta": the metadata bucket.
std::string meta_bucket_name(std::string_view prefix);

// Key-value keys allow only [-/_=.A-Za-z0-9] (and no leading, trailing or
// doubled '.'); metadata keys are any bytes. Bytes outside [-/_A-Za-z0-9]
// become "=HH" (two upper-case hex digits), '=' and '.' included, so the
// encoding is reversible, never yields a '.', and keeps prefixes: the
// encoding of a key starts with the encoding of each of its prefixes.
std::string encode_meta_key(std::string_view key);
// false when `encoded` is not the output of encode_meta_key.
bool decode_meta_key(std::string_view encoded, std::string* key);

}  // namespace kinesd::storage::jetstream
