#include "runtime/transport/auth_handshake.hpp"

#include <algorithm>
#include <cstring>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string_view>

namespace varsync::auth {

namespace {

using nonce = std::array<std::byte, nonce_size>;
using mac = std::array<std::byte, mac_size>;

/// Draws a nonce; false when OpenSSL's generator cannot be seeded (no
/// handshake can be made safely then: both sides refuse).
bool draw_nonce(nonce& result) {
  return RAND_bytes(reinterpret_cast<unsigned char*>(result.data()),
                    static_cast<int>(result.size())) == 1;
}

/// HMAC-SHA256(secret, label | channel | first | second).
mac proof_of(const cluster_secret& secret, std::string_view label,
             channel purpose, const nonce& first, const nonce& second) {
  std::array<std::byte, 16 + 1 + 2 * nonce_size> input{};
  auto* at = input.data();
  std::memcpy(at, label.data(), std::min<std::size_t>(label.size(), 16));
  at += 16;
  *at++ = static_cast<std::byte>(purpose);
  std::memcpy(at, first.data(), nonce_size);
  at += nonce_size;
  std::memcpy(at, second.data(), nonce_size);
  mac result{};
  unsigned int length = 0;
  auto key = secret.bytes();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(),
       reinterpret_cast<unsigned char*>(result.data()), &length);
  return result;
}

bool same(std::span<const std::byte> x, std::span<const std::byte> y) {
  return x.size() == y.size() &&
         CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

constexpr std::string_view client_label = "varsync client";
constexpr std::string_view server_label = "varsync server";

} // namespace

const char* to_string(refusal reason) noexcept {
  switch (reason) {
  case refusal::not_varsync:
    return "not a varsync handshake";
  case refusal::wrong_channel:
    return "a handshake for the other port (BASP vs bulk plane)";
  case refusal::wrong_secret:
    return "wrong cluster secret";
  case refusal::refused_by_peer:
    return "the peer refused our cluster secret";
  }
  return "unknown refusal";
}

server_handshake::server_handshake(const cluster_secret& secret,
                                   channel purpose)
    : secret_(secret), purpose_(purpose) {
  seeded_ = draw_nonce(nonce_);
  auto* at = hello_.data();
  std::memcpy(at, magic.data(), magic_size);
  at[magic_size] = static_cast<std::byte>(purpose);
  std::memcpy(at + magic_size + 1, nonce_.data(), nonce_size);
}

server_handshake::outcome
server_handshake::answer(std::span<const std::byte, proof_size> proof) const {
  outcome result;
  if (!same(proof.first<magic_size>(), magic)) {
    result.reason = refusal::not_varsync;
    return result;
  }
  nonce client{};
  std::memcpy(client.data(), proof.data() + magic_size, nonce_size);
  auto expected_mac = proof_of(secret_, client_label, purpose_, nonce_, client);
  if (!seeded_ || secret_.empty() ||
      !same(proof.subspan<magic_size + nonce_size, mac_size>(), expected_mac)) {
    result.reason = refusal::wrong_secret;
    return result;
  }
  result.accepted = true;
  result.verdict[0] = std::byte{1};
  auto mine = proof_of(secret_, server_label, purpose_, client, nonce_);
  std::memcpy(result.verdict.data() + 1, mine.data(), mac_size);
  return result;
}

client_handshake::client_handshake(const cluster_secret& secret,
                                   channel purpose)
    : secret_(secret), purpose_(purpose) {
  seeded_ = draw_nonce(nonce_);
}

expected<proof_bytes>
client_handshake::prove(std::span<const std::byte, hello_size> hello) {
  if (!same(hello.first<magic_size>(), magic)) {
    reason_ = refusal::not_varsync;
    return error{errc::not_varsync, to_string(reason_)};
  }
  if (hello[magic_size] != static_cast<std::byte>(purpose_)) {
    reason_ = refusal::wrong_channel;
    return error{errc::not_varsync, to_string(reason_)};
  }
  if (!seeded_ || secret_.empty()) {
    reason_ = refusal::wrong_secret;
    return error{errc::unauthenticated,
                 "no cluster secret to prove (or no random bytes)"};
  }
  std::memcpy(server_nonce_.data(), hello.data() + magic_size + 1, nonce_size);
  proof_bytes proof{};
  std::memcpy(proof.data(), magic.data(), magic_size);
  std::memcpy(proof.data() + magic_size, nonce_.data(), nonce_size);
  auto mine = proof_of(secret_, client_label, purpose_, server_nonce_, nonce_);
  std::memcpy(proof.data() + magic_size + nonce_size, mine.data(), mac_size);
  return proof;
}

expected<void> client_handshake::check(
    std::span<const std::byte, verdict_size> verdict) const {
  if (verdict[0] != std::byte{1}) {
    reason_ = refusal::refused_by_peer;
    return error{
        errc::unauthenticated,
        "refused: the node does not accept our cluster secret (start this "
        "process with the cluster's --secret-file)"};
  }
  auto expected_mac =
      proof_of(secret_, server_label, purpose_, nonce_, server_nonce_);
  if (!same(verdict.subspan<1, mac_size>(), expected_mac)) {
    reason_ = refusal::wrong_secret;
    return error{
        errc::unauthenticated,
        "the node accepted us but cannot prove it holds our cluster secret "
        "(not a member of this cluster)"};
  }
  return {};
}

} // namespace varsync::auth
