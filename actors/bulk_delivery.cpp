#include "actors/bulk_delivery.hpp"

#include "actors/protocol.hpp"

namespace varsync {

namespace {

/// The install in `frame` (a whole value, or a row delta when its code
/// says so) as the message the replica actor takes.
void send_install(const caf::actor& actor, bulk_frame& frame,
                  std::uint64_t steps) {
  if (frame.code == bulk_install_rows)
    caf::anon_send(actor, install_rows_atom::value, frame.variable,
                   frame.number, steps, std::move(frame.value));
  else
    caf::anon_send(actor, install_atom::value, frame.variable, frame.number,
                   steps, std::move(frame.value));
}

} // namespace

bulk_sink deliver_as_messages(caf::actor actor) {
  return [actor = std::move(actor)](const bulk_origin& from, bulk_frame frame) {
    switch (frame.kind) {
    case bulk_kind::ack:
      caf::anon_send(actor, bulk_ack_atom::value, frame.variable, frame.number,
                     frame.tag, frame.code, std::move(frame.text));
      return;
    case bulk_kind::install:
      // `index`: the steps the version holds.
      send_install(actor, frame, frame.index);
      return;
    case bulk_kind::install_ack:
      // `index`: the step acknowledged, the last one the version holds.
      // Two messages in a row: the second finds the actor scheduled already.
      send_install(actor, frame, frame.index + 1);
      caf::anon_send(actor, bulk_ack_atom::value, frame.variable, frame.index,
                     frame.tag, std::uint8_t{0}, std::string{});
      return;
    case bulk_kind::contribute:
      caf::anon_send(actor, bulk_contribute_atom::value, from.connection,
                     from.node, frame.reply_to, frame.index, frame.number,
                     frame.code, std::move(frame.value), frame.timeout_ms,
                     frame.tag, frame.part_offset, frame.part_count);
      return;
    case bulk_kind::hello:
      return; // the plane's own business; never delivered
    }
    // The plane validated the kind before delivering; nothing else exists.
  };
}

void add_bulk_target(bulk_plane& plane, const caf::actor& actor) {
  plane.add_target(actor.id(), deliver_as_messages(actor));
}

} // namespace varsync
