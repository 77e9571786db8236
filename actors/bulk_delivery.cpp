#include "actors/bulk_delivery.hpp"

#include "actors/protocol.hpp"

namespace varsync {

bulk_sink deliver_as_messages(caf::actor actor) {
  return [actor = std::move(actor)](const bulk_origin& from, bulk_frame frame) {
    switch (frame.kind) {
    case bulk_kind::ack:
      caf::anon_send(actor, bulk_ack_atom::value, frame.variable, frame.number,
                     frame.tag, frame.code, std::move(frame.text));
      return;
    case bulk_kind::install:
      // `index`: the steps the version holds.
      caf::anon_send(actor, install_atom::value, frame.variable, frame.number,
                     frame.index, std::move(frame.value));
      return;
    case bulk_kind::install_ack:
      // `index`: the step acknowledged, the last one the version holds.
      // Two messages in a row: the second finds the actor scheduled already.
      caf::anon_send(actor, install_atom::value, frame.variable, frame.number,
                     frame.index + 1, std::move(frame.value));
      caf::anon_send(actor, bulk_ack_atom::value, frame.variable, frame.index,
                     frame.tag, std::uint8_t{0}, std::string{});
      return;
    case bulk_kind::contribute:
      caf::anon_send(actor, bulk_contribute_atom::value, from.connection,
                     from.node, frame.reply_to, frame.index, frame.number,
                     frame.code, std::move(frame.value), frame.timeout_ms,
                     frame.tag);
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
