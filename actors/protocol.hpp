#pragma once

// The messages between varsync's actors, declared in one place. Atoms are
// CAF 0.17 atom constants (at most 10 characters). Message types that may
// cross a process boundary have `inspect` overloads (a tensor travels as one
// raw byte block) and are registered with CAF in runtime/caf_setup.cpp.
//
// Which actor takes which message, with which reply, is declared as CAF
// typed interfaces, checked by the compiler:
//   every variable actor      actors/policies/variable_interface.hpp
//   on_write, periodic        actors/policies/eager_broadcast/interface.hpp
//   bounded_staleness         actors/policies/bounded_staleness/interface.hpp
//   on_read, none             actors/policies/reduce_on_read/interface.hpp
// Not yet typed: the replica actor's attach (attach_atom, variable_id, name,
// variable actor, initial tensor, variable_options, group size, bulk host,
// bulk port) -> clock (u64), and the directory's and node agent's messages
// (actors/cluster_protocol.hpp).
// With the bulk plane (runtime/transport/bulk_plane.hpp) a remote replica's
// contribution and its answers travel as frames; actors/bulk_delivery.cpp
// turns each into the message of the interface it stands for.

#include "runtime/core/copy_count.hpp"
#include "runtime/core/tensor_math.hpp"
#include "runtime/core/wire.hpp"
#include "varsync/tensor.hpp"
#include "varsync/variable_options.hpp"

#include <atomic>
#include <caf/all.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace varsync {

namespace detail {
struct group_record;
struct variable_record;
} // namespace detail

/// Identifies a variable within a runtime; assigned by the directory.
using variable_id = std::uint64_t;

/// Local-only records of the runtime (never sent).
using group_record_ptr = std::shared_ptr<detail::group_record>;
using variable_record_ptr = std::shared_ptr<const detail::variable_record>;

using ok_atom = caf::atom_constant<caf::atom("ok")>;
/// Replica-context update, host (or a remote caller) -> replica actor.
using update_atom = caf::atom_constant<caf::atom("update")>;
/// The same from the host thread with a completion object (local only).
using local_update_atom = caf::atom_constant<caf::atom("lupdate")>;
/// Cross-replica update, host -> variable actor.
using cross_update_atom = caf::atom_constant<caf::atom("xupdate")>;
using contribute_atom = caf::atom_constant<caf::atom("contrib")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using install_atom = caf::atom_constant<caf::atom("install")>;
using install_rows_atom = caf::atom_constant<caf::atom("instrows")>;
using copy_get_atom = caf::atom_constant<caf::atom("copyget")>;
/// A cross-replica read of some rows (the row indices as an i64 tensor of
/// shape [n], timeout_ms) from a variable actor: (version, the rows of
/// that version; on_read: version 0, the aggregate of the copies' rows).
using read_rows_atom = caf::atom_constant<caf::atom("readrows")>;
/// The rows of a replica's copy (variable, row indices as for
/// read_rows_atom): on_read's gather for read_rows.
using copy_rows_atom = caf::atom_constant<caf::atom("copyrows")>;
using copy_set_atom = caf::atom_constant<caf::atom("copyset")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
/// The variable actor's deadline alarm: (step_alarm_atom, due ticks).
using step_alarm_atom = caf::atom_constant<caf::atom("stepalarm")>;
using push_atom = caf::atom_constant<caf::atom("push")>;
using refresh_atom = caf::atom_constant<caf::atom("refresh")>;
/// A bounded_staleness refresh that adds packed rows to the previous one.
using refresh_rows_atom = caf::atom_constant<caf::atom("refrows")>;
using clock_atom = caf::atom_constant<caf::atom("clock")>;
using wait_read_atom = caf::atom_constant<caf::atom("waitread")>;
using wait_expired_atom = caf::atom_constant<caf::atom("waitexp")>;
using catch_up_atom = caf::atom_constant<caf::atom("catchup")>;
using min_clock_atom = caf::atom_constant<caf::atom("minclock")>;
using group_atom = caf::atom_constant<caf::atom("group")>;
using variable_atom = caf::atom_constant<caf::atom("variable")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using bulk_contribute_atom = caf::atom_constant<caf::atom("bcontrib")>;
using bulk_ack_atom = caf::atom_constant<caf::atom("back")>;
/// A lost replica's index joined again (directory -> variable actor ->
/// the new replica actor).
using rejoin_atom = caf::atom_constant<caf::atom("rejoin")>;
/// A rejoining bounded_staleness replica's first snapshot (variable actor
/// -> replica actor).
using rejoin_refresh_atom = caf::atom_constant<caf::atom("rejoinref")>;
/// Re-hosting a variable whose actor's node was lost: directory -> node
/// agent (spawn the new actor), directory -> new variable actor (take the
/// replicas over), new variable actor -> replica actor (point at me and
/// report what you hold: actors/policies/replica_recovery.hpp).
using rehost_atom = caf::atom_constant<caf::atom("rehost")>;
/// The re-created on_write/periodic actor's first word to a replica
/// (variable, version, steps, value): what it committed.
using rehosted_atom = caf::atom_constant<caf::atom("rehosted")>;
/// The directory could not re-host a variable (variable, why).
using rehost_failed_atom = caf::atom_constant<caf::atom("rehostfail")>;
/// The replica actor's deadline alarm: (update_alarm_atom, due ticks).
using update_alarm_atom = caf::atom_constant<caf::atom("updalarm")>;

/// How much longer than the caller's deadline a request may take before
/// CAF gives up on the reply (actors answer at the deadline themselves;
/// this only guards against a dead or stuck actor).
inline constexpr std::chrono::milliseconds reply_grace{1000};

/// update_op travels as one byte; a byte that names no op is rejected.
inline std::uint8_t to_wire(update_op op) noexcept {
  return static_cast<std::uint8_t>(op);
}

/// The update_op of a wire byte, or nullopt for an invalid byte.
inline std::optional<update_op> op_from_wire(std::uint8_t byte) noexcept {
  if (byte > static_cast<std::uint8_t>(update_op::subtract))
    return std::nullopt;
  return static_cast<update_op>(byte);
}

/// The update_op of a wire byte for an on_write step, where add_rows and
/// assign_rows (a packed row delta) are valid too; nullopt for an invalid
/// byte.
inline std::optional<update_op> step_op_from_wire(std::uint8_t byte) noexcept {
  if (byte > static_cast<std::uint8_t>(update_op::assign_rows))
    return std::nullopt;
  return static_cast<update_op>(byte);
}

/// The error for an invalid op byte received from `sender`.
inline error invalid_op(std::uint8_t byte) {
  return error{errc::invalid_argument,
               "received update operation code " + std::to_string(byte) +
                   ", expected 0 (assign), 1 (assign_add) or 2 (assign_sub)"};
}

/// Writes a tensor as dtype, rank, dimensions, byte count and one raw block.
inline caf::error inspect(caf::serializer& sink, tensor& x) {
  auto type = static_cast<std::uint8_t>(x.type());
  auto rank = static_cast<std::uint64_t>(x.shape().size());
  if (auto err = sink(type, rank))
    return err;
  for (auto dimension : x.shape())
    if (auto err = sink(dimension))
      return err;
  auto bytes = x.bytes();
  auto byte_count = static_cast<std::uint64_t>(bytes.size());
  if (auto err = sink(byte_count))
    return err;
  if (byte_count == 0)
    return caf::none;
  tensor_bytes_serialized.fetch_add(byte_count, std::memory_order_relaxed);
  count_copied(bytes.size()); // into CAF's message buffer
  return sink.apply_raw(bytes.size(),
                        const_cast<std::byte*>(bytes.data())); // NOLINT
}

/// Reads what the serializer overload wrote; rejects unknown dtypes,
/// oversized ranks or payloads and inconsistent sizes instead of
/// allocating what the sender announced.
inline caf::error inspect(caf::deserializer& source, tensor& x) {
  std::uint8_t type = 0;
  std::uint64_t rank = 0;
  if (auto err = source(type, rank))
    return err;
  if (type > static_cast<std::uint8_t>(dtype::i64) || rank > max_tensor_rank)
    return caf::sec::invalid_argument;
  shape_type shape(rank);
  for (auto& dimension : shape)
    if (auto err = source(dimension))
      return err;
  std::uint64_t byte_count = 0;
  if (auto err = source(byte_count))
    return err;
  // Check the announced size against the shape and against what actually
  // arrived before allocating anything for it.
  std::uint64_t elements = 1;
  for (auto dimension : shape)
    if (dimension < 0 ||
        __builtin_mul_overflow(elements, static_cast<std::uint64_t>(dimension),
                               &elements))
      return caf::sec::invalid_argument;
  std::uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(
          elements,
          static_cast<std::uint64_t>(size_of(static_cast<dtype>(type))),
          &expected_bytes) ||
      byte_count != expected_bytes || byte_count > max_tensor_bytes)
    return caf::sec::invalid_argument;
  if (auto* binary = dynamic_cast<caf::binary_deserializer*>(&source);
      binary != nullptr && binary->remaining() < byte_count)
    return caf::sec::end_of_stream;
  // Read straight into the tensor's own buffer (no zeroing pass first).
  auto result =
      tensor::uninitialized(static_cast<dtype>(type), std::move(shape));
  if (!result)
    return caf::sec::invalid_argument;
  if (byte_count > 0) {
    auto bytes = result->mutable_bytes();
    if (auto err = source.apply_raw(bytes.size(), bytes.data()))
      return err;
    count_copied(bytes.size()); // out of CAF's message buffer
  }
  x = std::move(*result);
  return caf::none;
}

/// Renders a tensor for CAF's `to_string` (logging, deep_to_string).
template <class Inspector>
std::enable_if_t<!std::is_base_of_v<caf::serializer, Inspector> &&
                     !std::is_base_of_v<caf::deserializer, Inspector>,
                 typename Inspector::result_type>
inspect(Inspector& f, tensor& x) {
  auto text = to_string(x);
  return f(caf::meta::type_name("tensor"), text);
}

/// variable_options travel as their fields.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, variable_options& x) {
  auto sync = static_cast<std::uint8_t>(x.sync);
  auto how = static_cast<std::uint8_t>(x.aggregation);
  auto has_trainable = x.trainable.has_value();
  auto trainable = x.trainable.value_or(false);
  return f(caf::meta::type_name("variable_options"), sync, how,
           x.staleness_bound, x.period, x.shards, has_trainable, trainable,
           caf::meta::load_callback([&]() -> caf::error {
             if (sync > static_cast<std::uint8_t>(synchronization::periodic) ||
                 how > static_cast<std::uint8_t>(aggregation::max))
               return caf::sec::invalid_argument;
             x.sync = static_cast<synchronization>(sync);
             x.aggregation = static_cast<aggregation>(how);
             x.trainable =
                 has_trainable ? std::optional<bool>{trainable} : std::nullopt;
             return caf::none;
           }));
}

} // namespace varsync
