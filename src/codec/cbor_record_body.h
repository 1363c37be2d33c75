#pragma once
// The CBOR counterpart of read_record_body (record_body.h): reads the body of
// a record-writing action as the Java SDKs send it (CBOR 1.1: maps and arrays
// of definite or indefinite length, byte strings for blobs, text strings for
// the rest) without building a value tree.
//
// It reads only what the general decoder certainly reads the same way: the
// layout's members, each at most once; blobs as byte strings and the other
// members as text strings of ASCII, either of definite length or in chunks;
// a list of maps or one map where the layout has them. Tags before an item
// are skipped, as the general decoder drops them. Anything else (null,
// numbers, a blob sent as text, non-ASCII text, unknown or repeated members,
// trailing bytes, anything malformed) makes it return false without judging
// the body, and the general path decodes and words the error.
//
// body.text is never changed: values point into it, or into body.joined for
// chunked strings.
#include "codec/record_body.h"

namespace kinesd::codec {

bool read_cbor_record_body(const body_layout& layout, record_body& body);

}  // namespace kinesd::codec
