#pragma once

// The bulk plane's frame layout and the checks of a received header,
// before anything of the size it announces is allocated.
//
// Frames (host byte order; every node of a cluster must share it):
//   header, 80 bytes: magic "VSB2" u32, kind u8, dtype u8, rank u8, code u8,
//     target u64, reply_to u64, variable u64, index u64, number u64,
//     tag u64, timeout_ms i64, payload bytes u64, offset u64
//   rank dimensions as i64, then the payload (the tensor's bytes, or the
//   text of an ack or a hello).
// A tensor frame whose payload is less than its shape's bytes is a part:
// `offset` is its first element (flat, row-major), the payload the bytes
// of the elements from there (bulk_plane.hpp, "Parts").

#include "runtime/transport/bulk_frame.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace varsync::bulk_wire {

inline constexpr std::uint32_t frame_magic = 0x32425356; // "VSB2"
inline constexpr std::size_t header_size = 80;
/// The longest error message an ack may carry.
inline constexpr std::uint64_t max_ack_text = 64 * 1024;
/// The longest node name a hello may carry.
inline constexpr std::uint64_t max_node_name = 255;

/// The fixed part of a frame, as it travels.
struct header {
  std::uint32_t magic = frame_magic;
  std::uint8_t kind = 0;
  std::uint8_t type = 0;
  std::uint8_t rank = 0;
  std::uint8_t code = 0;
  std::uint64_t target = 0;
  std::uint64_t reply_to = 0;
  std::uint64_t variable = 0;
  std::uint64_t index = 0;
  std::uint64_t number = 0;
  std::uint64_t tag = 0;
  std::int64_t timeout_ms = 0;
  std::uint64_t payload = 0;
  std::uint64_t offset = 0;
};

static_assert(sizeof(header) == header_size, "header must have no padding");

/// Whether frames of `kind` carry text (ack, hello) rather than a tensor.
bool carries_text(bulk_kind kind) noexcept;

/// Header and dimensions of `frame`, ready to send.
std::vector<std::byte> encode_head(const bulk_frame& frame);

/// A frame with the fields of `head` (kind, code, ids, numbers; no
/// payload). Call after `check_head` accepted it.
bulk_frame frame_of(const header& head);

/// The payload bytes of `frame` (of its part, when it is one).
std::size_t payload_of(const bulk_frame& frame) noexcept;

/// The bytes `frame` sends of its tensor: the part it names, or all.
std::span<const std::byte> tensor_payload(const bulk_frame& frame) noexcept;

/// Why a received header is unacceptable, or nullptr. Checks the magic,
/// kind, dtype, rank and the announced size against fixed bounds (the
/// configured cap is the caller's).
const char* check_head(const header& head) noexcept;

/// Whether a frame of `kind` may arrive on a connection this node accepted
/// (`inbound`) or opened. Contributions travel from a replica's node, which
/// opens the connection, to the variable's node; installs and acks come
/// back on that same connection. So an accepted connection carries only
/// contributions and an opened one only replies: a process that connects
/// to a node cannot hand its replicas installs or acks. A hello goes
/// both ways.
bool allowed_direction(bulk_kind kind, bool inbound) noexcept;

/// Whether `name` may name a node in a hello: 1 to 255 printable ASCII
/// characters.
bool valid_node_name(const std::string& name) noexcept;

} // namespace varsync::bulk_wire
