#include "runtime/transport/bulk_wire.hpp"

#include "runtime/core/wire.hpp"

#include <cstring>

namespace varsync::bulk_wire {

bool carries_text(bulk_kind kind) noexcept {
  return kind == bulk_kind::ack || kind == bulk_kind::hello;
}

std::vector<std::byte> encode_head(const bulk_frame& frame) {
  header head;
  head.kind = static_cast<std::uint8_t>(frame.kind);
  head.code = frame.code;
  head.target = frame.target;
  head.reply_to = frame.reply_to;
  head.variable = frame.variable;
  head.index = frame.index;
  head.number = frame.number;
  head.tag = frame.tag;
  head.timeout_ms = frame.timeout_ms;
  std::size_t rank = 0;
  if (carries_text(frame.kind)) {
    head.payload = frame.text.size();
  } else {
    head.type = static_cast<std::uint8_t>(frame.value.type());
    rank = frame.value.shape().size();
    head.rank = static_cast<std::uint8_t>(rank);
    head.payload = tensor_payload(frame).size();
    head.offset = frame.part_count > 0 ? frame.part_offset : 0;
  }
  std::vector<std::byte> result(header_size + rank * sizeof(std::int64_t));
  std::memcpy(result.data(), &head, header_size);
  if (rank > 0)
    std::memcpy(result.data() + header_size, frame.value.shape().data(),
                rank * sizeof(std::int64_t));
  return result;
}

bulk_frame frame_of(const header& head) {
  bulk_frame frame;
  frame.kind = static_cast<bulk_kind>(head.kind);
  frame.code = head.code;
  frame.target = head.target;
  frame.reply_to = head.reply_to;
  frame.variable = head.variable;
  frame.index = head.index;
  frame.number = head.number;
  frame.tag = head.tag;
  frame.timeout_ms = head.timeout_ms;
  return frame;
}

std::span<const std::byte> tensor_payload(const bulk_frame& frame) noexcept {
  auto bytes = frame.value.bytes();
  if (frame.part_count == 0)
    return bytes;
  auto element = size_of(frame.value.type());
  auto first = frame.part_offset * element;
  auto count = frame.part_count * element;
  if (first > bytes.size() || count > bytes.size() - first)
    return {}; // a part outside the tensor: the sender's bug, sent empty
  return bytes.subspan(first, count);
}

std::size_t payload_of(const bulk_frame& frame) noexcept {
  return carries_text(frame.kind) ? frame.text.size()
                                  : tensor_payload(frame).size();
}

const char* check_head(const header& head) noexcept {
  if (head.magic != frame_magic)
    return "bad magic (not a varsync bulk frame)";
  if (head.kind < static_cast<std::uint8_t>(bulk_kind::contribute) ||
      head.kind > static_cast<std::uint8_t>(bulk_kind::hello))
    return "unknown frame kind";
  if (head.kind == static_cast<std::uint8_t>(bulk_kind::ack)) {
    if (head.rank != 0 || head.payload > max_ack_text || head.offset != 0)
      return "ack with a shape or an oversized message";
    return nullptr;
  }
  if (head.kind == static_cast<std::uint8_t>(bulk_kind::hello)) {
    if (head.rank != 0 || head.payload == 0 || head.payload > max_node_name ||
        head.offset != 0)
      return "hello with a shape or without a node name of 1 to 255 bytes";
    return nullptr;
  }
  if (head.type > static_cast<std::uint8_t>(dtype::i64))
    return "unknown dtype";
  if (head.rank > max_tensor_rank)
    return "rank above 32";
  if (head.payload > max_tensor_bytes)
    return "payload above 4 GiB";
  return nullptr;
}

bool allowed_direction(bulk_kind kind, bool inbound) noexcept {
  if (kind == bulk_kind::hello)
    return true;
  return (kind == bulk_kind::contribute) == inbound;
}

bool valid_node_name(const std::string& name) noexcept {
  if (name.empty() || name.size() > max_node_name)
    return false;
  for (auto c : name)
    if (c < 0x20 || c > 0x7e)
      return false;
  return true;
}

} // namespace varsync::bulk_wire
