#pragma once

// Runs a Boost.Asio I/O context on the calling thread, polling for a short
// while before it sleeps.
//
// Why. On a VM, waking a sleeping thread costs ~25 us (its idle core
// halted; the wake-up is an interrupt through the hypervisor:
// shared/anchors, "socket, blocking read" against "busy-poll"), more than
// everything else in a small step. A thread that keeps polling for a while
// after each burst of work reads the next frame without that wake-up, as
// MPI's progress engine does (MPI polls for ever).
//
// How it works. Run the ready handlers (`poll`); when any ran, note the
// time and poll again; while less than `spin` passed since the last
// handler, yield the core and poll again; then block until the next
// handler (`run_one`). Yielding between polls lets any other runnable
// thread on the core go first: the spin uses idle time, not a busy
// thread's. Returns when the context is stopped.

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace varsync {

/// Runs `io` until it is stopped, polling for `spin` after each burst of
/// handlers before blocking (0: an ordinary `run`). Blocks the calling
/// thread; call it from the one thread that runs `io`.
void run_spinning(boost::asio::io_context& io, std::chrono::microseconds spin);

} // namespace varsync
