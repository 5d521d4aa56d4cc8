#pragma once
// chrysalis/detail/protobuf.hpp — the few pieces of the Protocol Buffers wire format that writing
// an ONNX model needs, so that export_onnx depends on no protobuf library. A message is a
// sequence of fields; each field is a key — (field number << 3) | wire type, as a varint — and a
// value: a varint (wire type 0: int32, int64, enums), 4 little-endian bytes (wire type 5: float),
// or a varint length and that many bytes (wire type 2: strings, bytes and nested messages).
// Fields are written in the order the caller appends them; repeated fields are written one key
// per element (proto2's unpacked form, which ONNX's .proto files declare).

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

namespace chrysalis::detail::protobuf {

enum class WireType : std::uint8_t { varint = 0, fixed64 = 1, length_delimited = 2, fixed32 = 5 };

/// Appends `value` as a base-128 varint: 7 bits per byte, least significant group first, the
/// high bit set on every byte but the last (1 to 10 bytes).
inline void put_varint(std::string& out, std::uint64_t value) {
    while (value >= 0x80) {
        out += char((value & 0x7F) | 0x80);
        value >>= 7;
    }
    out += char(value);
}

/// Appends a field's key.
inline void put_key(std::string& out, int field, WireType type) {
    put_varint(out, (std::uint64_t(field) << 3) | std::uint64_t(type));
}

/// An int32, int64 or enum field. Negative values take ten bytes (their two's complement as a
/// 64-bit varint), as protobuf writes them.
inline void put_int(std::string& out, int field, std::int64_t value) {
    put_key(out, field, WireType::varint);
    put_varint(out, std::uint64_t(value));
}

/// A string, bytes or nested-message field: its length, then its bytes.
inline void put_bytes(std::string& out, int field, std::string_view bytes) {
    put_key(out, field, WireType::length_delimited);
    put_varint(out, bytes.size());
    out += bytes;
}

/// A float field: its IEEE 754 bits, little-endian.
inline void put_float(std::string& out, int field, float value) {
    put_key(out, field, WireType::fixed32);
    const auto bits = std::bit_cast<std::uint32_t>(value);
    for (int i = 0; i < 4; ++i) out += char((bits >> (8 * i)) & 0xFF);
}

}  // namespace chrysalis::detail::protobuf
