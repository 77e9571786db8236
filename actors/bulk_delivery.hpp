#pragma once

// What a bulk-plane frame means to an actor: the seam between the
// transport (runtime/transport/bulk_plane.hpp moves frames and knows no
// protocol) and the on_write protocol (actors/protocol.hpp). A frame that
// names a registered actor arrives in its mailbox as:
//   contribute -> (bulk_contribute_atom, connection, sending node,
//                  reply_to, index, step, op byte, tensor, timeout_ms, tag,
//                  part offset, part count): once per part (the tensor is
//                  the whole one, filled up to offset + count), or once
//                  for a whole frame (0, its size)
//   install    -> (install_atom, variable, version, steps (index), tensor),
//                 or install_rows_atom when code is bulk_install_rows
//   install_ack -> the install (steps: index + 1), then the ack of step index
//   ack        -> (bulk_ack_atom, variable, step, tag, errc byte, message)

#include "runtime/transport/bulk_plane.hpp"

#include <caf/all.hpp>

namespace varsync {

/// A sink that turns the frames naming `actor` into its protocol messages
/// (sent anonymously, in the order the connection delivered them).
bulk_sink deliver_as_messages(caf::actor actor);

/// Lets frames on `plane` name `actor` (by its id) and arrive as its
/// protocol messages. Call before the actor's id is sent anywhere.
/// Thread-safe.
void add_bulk_target(bulk_plane& plane, const caf::actor& actor);

} // namespace varsync
