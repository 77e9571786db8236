#pragma once

// What the bulk plane carries (bulk_plane.hpp): frames, where a received
// one came from, and the sinks that take them.

#include "varsync/tensor.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace varsync {

/// What a frame is.
enum class bulk_kind : std::uint8_t {
  /// A replica's on_write update: `code` is the op byte, `number` the step.
  contribute = 1,
  /// A published version for a replica: `number` is the version; `code`
  /// is bulk_install_rows when `value` is a packed row delta to add to the
  /// version before, else 0 (the whole value).
  install = 2,
  /// The outcome of a contribution: `code` is 0 or the errc, `number` the
  /// step, `text` the error message.
  ack = 3,
  /// An install and the successful ack of the contribution it completes,
  /// in one frame (one write and one read less per step): `number` is the
  /// version, `index` the step, `tag` the attempt, `code` as for install.
  install_ack = 4,
  /// The first frame each way on every connection: `text` names the
  /// sending node. The plane sends and checks it; sinks never see it.
  hello = 5,
};

/// An install's `code` when its value is a packed row delta.
inline constexpr std::uint8_t bulk_install_rows = 1;

/// One frame to send. Tensors are sent from their own buffer.
struct bulk_frame {
  bulk_kind kind = bulk_kind::ack;
  std::uint8_t code = 0;
  /// The actor id of the receiving actor at the receiving node.
  std::uint64_t target = 0;
  /// contribute: the actor id of the sending replica actor (for replies).
  std::uint64_t reply_to = 0;
  std::uint64_t variable = 0;
  /// contribute: the replica index; install: the steps the version holds;
  /// install_ack: the step (the version holds it and the ones before).
  std::uint64_t index = 0;
  /// contribute, ack: the step; install: the version.
  std::uint64_t number = 0;
  /// contribute, ack, install_ack: the attempt a reply answers.
  std::uint64_t tag = 0;
  std::int64_t timeout_ms = 0;
  /// contribute, install, install_ack.
  tensor value;
  /// Parts (bulk_plane.hpp, "Parts"). Sending: when `part_count` > 0 the
  /// frame carries only the elements [part_offset, part_offset +
  /// part_count) of `value` (flat, row-major); 0 sends all of it.
  /// Delivered: `value` is always the whole tensor and these name the part
  /// that arrived last: elements before `part_offset + part_count` hold
  /// their values, later ones are still on their way (only a contribution
  /// is delivered before its last part; a whole frame: 0 and its size).
  std::uint64_t part_offset = 0;
  std::uint64_t part_count = 0;
  /// ack: the error message; hello: the node's name.
  std::string text;
};

/// Where a received frame came from.
struct bulk_origin {
  /// The connection it came in on: pass it to `bulk_plane::reply` to
  /// answer on the same connection.
  std::uint64_t connection = 0;
  /// The node at the other end, as its hello named it (for a connection
  /// this node opened, checked against the node it meant to reach).
  std::string node;
};

/// Takes the frames that name one target. Called on the plane's I/O
/// thread; must not block.
using bulk_sink = std::function<void(const bulk_origin& from, bulk_frame)>;

} // namespace varsync
