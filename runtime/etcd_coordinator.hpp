#pragma once

// The directory's holder elected through etcd instead of by a majority of
// the nodes (node_config::coordinator, `--coordinator etcd://h1:p1,...`),
// as TorchElastic's etcd rendezvous does.
//
// How it works. Every node holds an etcd lease (its TTL: the connection
// timeout, at least 2 s), renewed by a thread of this class, and records
// itself under `<prefix>/nodes/<name>` with it: the cluster's membership
// as etcd sees it. The holder of the directory is whoever created
// `<prefix>/holder` ("epoch name host port", attached to its lease) in a
// transaction that also moves `<prefix>/epoch` from the last epoch to the
// next: etcd's compare-and-swap, so exactly one node wins each epoch, and
// epochs never repeat. When the holder dies its lease expires and etcd
// deletes the key; the thread sees the key gone (it looks every 250 ms:
// the gateway's watch is a stream our small client does not read) and
// the node campaigns. The winner's agent takes the directory over from its
// copy (actors/directory_election.hpp, without a vote: etcd decided) and
// asks every node to follow it; a node its copy lacks (the last holder
// registered it and froze before its copy went out) sees its epoch behind
// the holder key's for a connection timeout and joins the holder etcd
// names. The winner also reads the state the last holder stored in
// `<prefix>/directory` and takes it when it is newer than its own copy.
// A majority of etcd's members must be up; any number of varsync nodes may
// be lost.

#include "runtime/transport/etcd_client.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace varsync::detail {

/// Who holds the directory, as etcd records it.
struct etcd_holder {
  std::uint64_t epoch = 0;
  std::string node;
  endpoint address;
};

/// One node's part in an etcd-coordinated cluster. Thread-safe.
class etcd_coordinator {
public:
  /// Connects to the etcd cluster named by `url`, takes a lease of
  /// `ttl_seconds` and records this node (`node` at `address`). Blocks.
  static expected<std::unique_ptr<etcd_coordinator>>
  connect(const std::string& url, std::string node, endpoint address,
          std::int64_t ttl_seconds);

  /// Stops the thread and ends the lease (this node's keys go). Blocks.
  ~etcd_coordinator();

  etcd_coordinator(const etcd_coordinator&) = delete;
  etcd_coordinator& operator=(const etcd_coordinator&) = delete;

  /// Tries to become the holder of the next epoch: the epoch when this
  /// node won it, nullopt when another node holds the directory. Blocks.
  expected<std::optional<std::uint64_t>> campaign();

  /// The current holder; nullopt when none (it was lost, no one won yet).
  /// Blocks.
  expected<std::optional<etcd_holder>> holder();

  /// Stores `bytes` (a serialized copy of the directory's state) under
  /// `<prefix>/directory` soon, on the thread, only while this node holds
  /// the holder key (a holder that lost it cannot overwrite its
  /// successor's state). Only the newest pending copy is written. Never
  /// blocks.
  void store_directory(std::string bytes);

  /// The directory's state stored in etcd; nullopt when none. Blocks.
  expected<std::optional<std::string>> load_directory();

  /// The addresses of the other nodes etcd lists as alive. Blocks.
  expected<std::vector<endpoint>> other_nodes();

  /// Starts renewing the lease and watching the holder key: calls
  /// `vacant()` (on the thread) whenever no node holds the directory, and
  /// `expired()` after this node's lease had expired (it was cut off for
  /// longer than the TTL: if it held the directory, another node may hold
  /// it now), and `held(holder)` each time it sees a holder recorded.
  void start(std::function<void()> vacant, std::function<void()> expired,
             std::function<void(const etcd_holder&)> held);

private:
  etcd_coordinator(std::vector<endpoint> members, std::string prefix,
                   std::string node, endpoint address, std::int64_t ttl);

  void run();

  etcd_client client_;
  std::string prefix_;
  std::string node_;
  endpoint address_;
  std::int64_t ttl_;
  std::int64_t lease_ = 0;
  std::function<void()> vacant_;
  std::function<void()> expired_;
  std::function<void(const etcd_holder&)> held_;
  /// What this node wrote into the holder key when it won (empty: it
  /// never won). Used on the thread and by campaign().
  std::string holder_value_;
  /// The newest copy not yet written (guarded by mutex_).
  std::optional<std::string> pending_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace varsync::detail
