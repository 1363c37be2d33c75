"""Reads the Kinesis Producer Library's aggregated records without a protobuf
library: the 4 magic bytes, a protobuf AggregatedRecord, then the MD5 of the
protobuf bytes.

    AggregatedRecord {1: repeated string partition_key_table,
                      2: repeated string explicit_hash_key_table,
                      3: repeated Record records}
    Record {1: uint64 partition_key_index, 2: optional uint64 explicit_hash_key_index,
            3: bytes data, 4: repeated Tag tags}
"""
import hashlib

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class FormatError(ValueError):
    """Bytes that start with the magic but are not a well-formed aggregate."""


class UserRecord:
    def __init__(self, partition_key, explicit_hash_key, data):
        self.partition_key = partition_key
        # A decimal string, or None: then the record routes by its partition key.
        self.explicit_hash_key = explicit_hash_key
        self.data = data

    def __repr__(self):
        return "UserRecord(%r, %r, %r)" % (self.partition_key, self.explicit_hash_key, self.data)


def is_aggregate(data):
    return data.startswith(MAGIC)


def _varint(buf, pos):
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise FormatError("varint runs past the end")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise FormatError("varint longer than 10 bytes")


def _fields(buf):
    """(field number, wire type, value) for every field of one message."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == VARINT:
            value, pos = _varint(buf, pos)
        elif wire == LENGTH_DELIMITED:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise FormatError("field %d runs past the end" % number)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == FIXED64:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == FIXED32:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise FormatError("wire type %d (field %d) is not used by this format" % (wire, number))
        if pos > len(buf):
            raise FormatError("field %d runs past the end" % number)
        yield number, wire, value


def _record(buf):
    pk_index = ehk_index = data = None
    for number, wire, value in _fields(buf):
        if number == 1 and wire == VARINT:
            pk_index = value
        elif number == 2 and wire == VARINT:
            ehk_index = value
        elif number == 3 and wire == LENGTH_DELIMITED:
            data = bytes(value)
        elif number == 4 and wire == LENGTH_DELIMITED:
            pass  # tags: the KPL writes none, and nothing here reads them
        else:
            raise FormatError("unexpected field %d (wire type %d) in a Record" % (number, wire))
    if pk_index is None or data is None:
        raise FormatError("a Record lacks its required partition_key_index or data")
    return pk_index, ehk_index, data


def deaggregate(data):
    """The user records of one aggregate, in order. Raises FormatError on
    anything malformed, including a digest that does not match."""
    if not is_aggregate(data):
        raise FormatError("no magic bytes")
    if len(data) < len(MAGIC) + DIGEST_SIZE:
        raise FormatError("too short for an aggregate: %d bytes" % len(data))
    message = data[len(MAGIC):-DIGEST_SIZE]
    if hashlib.md5(message).digest() != data[-DIGEST_SIZE:]:
        raise FormatError("the MD5 digest does not match the message")
    keys, hash_keys, records = [], [], []
    for number, wire, value in _fields(message):
        if wire != LENGTH_DELIMITED or number not in (1, 2, 3):
            raise FormatError("unexpected field %d (wire type %d) in an AggregatedRecord"
                              % (number, wire))
        if number == 1:
            keys.append(bytes(value).decode("utf-8"))
        elif number == 2:
            hash_keys.append(bytes(value).decode("ascii"))
        else:
            records.append(_record(value))
    result = []
    for pk_index, ehk_index, payload in records:
        if pk_index >= len(keys):
            raise FormatError("partition key index %d of %d" % (pk_index, len(keys)))
        if ehk_index is not None and ehk_index >= len(hash_keys):
            raise FormatError("explicit hash key index %d of %d" % (ehk_index, len(hash_keys)))
        result.append(UserRecord(keys[pk_index],
                                 None if ehk_index is None else hash_keys[ehk_index], payload))
    return result
