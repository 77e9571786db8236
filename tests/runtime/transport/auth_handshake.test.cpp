// The cluster handshake as messages (no I/O): members accept each other;
// a wrong secret, a tampered or replayed proof, a proof for the other port
// and a server that cannot prove the secret are refused; the secret never
// appears in what is sent.

#include "runtime/transport/auth_handshake.hpp"

#include <algorithm>
#include <doctest/doctest.h>
#include <vector>

using namespace varsync;
using namespace varsync::auth;

namespace {

cluster_secret secret_of(char fill) {
  return cluster_secret{std::vector<std::byte>(40, std::byte(fill))};
}

bool contains_bytes(std::span<const std::byte> haystack,
                    std::span<const std::byte> needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(),
                     needle.end()) != haystack.end();
}

} // namespace

TEST_CASE("two holders of the secret accept each other; nothing sent holds "
          "the secret; nonces differ between handshakes") {
  auto secret = secret_of('s');
  server_handshake server{secret, channel::basp};
  client_handshake client{secret, channel::basp};
  auto proof = client.prove(server.hello());
  REQUIRE(proof);
  auto outcome = server.answer(*proof);
  CHECK(outcome.accepted);
  CHECK(client.check(outcome.verdict));
  auto key = secret.bytes().first(16);
  CHECK_FALSE(contains_bytes(server.hello(), key));
  CHECK_FALSE(contains_bytes(*proof, key));
  CHECK_FALSE(contains_bytes(outcome.verdict, key));
  server_handshake another{secret, channel::basp};
  CHECK(another.hello() != server.hello());
}

TEST_CASE("a wrong secret is refused by the server, and the client learns "
          "it was refused") {
  auto cluster = secret_of('s');
  auto intruder = secret_of('x');
  server_handshake server{cluster, channel::basp};
  client_handshake client{intruder, channel::basp};
  auto proof = client.prove(server.hello());
  REQUIRE(proof);
  auto outcome = server.answer(*proof);
  CHECK_FALSE(outcome.accepted);
  CHECK_EQ(outcome.reason, refusal::wrong_secret);
  CHECK(outcome.verdict[0] == std::byte{0});
  auto checked = client.check(outcome.verdict);
  REQUIRE_FALSE(checked);
  CHECK_EQ(checked.error().code(), errc::unauthenticated);
  CHECK_EQ(client.reason(), refusal::refused_by_peer);
}

TEST_CASE("a tampered proof and a proof replayed to a new handshake are "
          "refused") {
  auto secret = secret_of('s');
  server_handshake server{secret, channel::basp};
  client_handshake client{secret, channel::basp};
  auto proof = client.prove(server.hello());
  REQUIRE(proof);
  for (std::size_t at :
       {std::size_t{9}, magic_size + nonce_size, proof_size - 1}) {
    CAPTURE(at);
    auto tampered = *proof;
    tampered[at] ^= std::byte{1};
    CHECK_FALSE(server.answer(tampered).accepted);
  }
  // A recorded proof answers one nonce only.
  server_handshake later{secret, channel::basp};
  CHECK_FALSE(later.answer(*proof).accepted);
  CHECK(server.answer(*proof).accepted);
}

TEST_CASE("bytes that are not a varsync handshake, or one for the other "
          "port, are refused") {
  auto secret = secret_of('s');
  server_handshake server{secret, channel::basp};
  proof_bytes garbage{};
  std::fill(garbage.begin(), garbage.end(), std::byte{0x41});
  auto outcome = server.answer(garbage);
  CHECK_FALSE(outcome.accepted);
  CHECK_EQ(outcome.reason, refusal::not_varsync);
  // A bulk-plane client meeting the BASP port refuses to prove anything.
  client_handshake bulk_client{secret, channel::bulk};
  auto proof = bulk_client.prove(server.hello());
  REQUIRE_FALSE(proof);
  CHECK_EQ(bulk_client.reason(), refusal::wrong_channel);
  // A proof made for the bulk plane does not open the BASP port.
  server_handshake bulk_server{secret, channel::bulk};
  auto bulk_proof = bulk_client.prove(bulk_server.hello());
  REQUIRE(bulk_proof);
  CHECK_FALSE(server.answer(*bulk_proof).accepted);
  CHECK(bulk_server.answer(*bulk_proof).accepted);
}

TEST_CASE("a server that accepts without proving the secret is refused by "
          "the client") {
  auto secret = secret_of('s');
  server_handshake impostor{secret_of('i'), channel::basp};
  client_handshake client{secret, channel::basp};
  auto proof = client.prove(impostor.hello());
  REQUIRE(proof);
  verdict_bytes forged{};
  forged[0] = std::byte{1}; // "accepted", with a MAC it cannot make
  auto checked = client.check(forged);
  REQUIRE_FALSE(checked);
  CHECK_EQ(checked.error().code(), errc::unauthenticated);
  CHECK_EQ(client.reason(), refusal::wrong_secret);
}

TEST_CASE("an empty secret authenticates nobody") {
  cluster_secret none;
  server_handshake server{none, channel::basp};
  client_handshake client{none, channel::basp};
  CHECK_FALSE(client.prove(server.hello()));
  client_handshake member{secret_of('s'), channel::basp};
  auto proof = member.prove(server.hello());
  REQUIRE(proof);
  CHECK_FALSE(server.answer(*proof).accepted);
}
