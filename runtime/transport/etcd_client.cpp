#include "runtime/transport/etcd_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>

// Boost.Beast 1.74's response parser trips GCC 12's -Wmaybe-uninitialized
// (a boost::optional in basic_parser::content_length_unchecked, a false
// positive) in sanitizer builds; the warning fires where the parser is
// instantiated, in this file, so it is off for the whole file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#include <openssl/evp.h>

namespace varsync {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using json = nlohmann::json;
using tcp = boost::asio::ip::tcp;

/// Most bytes of one gateway response (the directory's state is the
/// largest value; bounded memory against a wrong peer).
constexpr std::size_t max_response = 64 * 1024 * 1024;

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  auto length =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out(3 * (text.size() / 4) + 1, '\0');
  auto length =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()),
                      static_cast<int>(text.size()));
  if (length < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts the padding as bytes.
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=')
    ++padding;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

/// etcd's int64 fields arrive as JSON strings.
std::int64_t number(const json& object, const char* field) {
  auto i = object.find(field);
  if (i == object.end())
    return 0;
  if (i->is_string())
    return std::stoll(i->get<std::string>());
  if (i->is_number_integer())
    return i->get<std::int64_t>();
  return 0;
}

expected<json> parse(const std::string& text, const std::string& what) {
  auto parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return error{errc::variable_unavailable,
                 "etcd " + what +
                     ": not a JSON object: " + text.substr(0, 200)};
  if (auto e = parsed.find("error"); e != parsed.end())
    return error{errc::variable_unavailable,
                 "etcd " + what + ": " + e->dump().substr(0, 300)};
  return parsed;
}

expected<std::vector<etcd_entry>> entries_of(const json& response) {
  std::vector<etcd_entry> result;
  auto kvs = response.find("kvs");
  if (kvs == response.end())
    return result;
  for (const auto& kv : *kvs) {
    etcd_entry entry;
    auto key = unbase64(kv.value("key", std::string{}));
    auto value = unbase64(kv.value("value", std::string{}));
    if (!key || !value)
      return error{errc::variable_unavailable,
                   "etcd returned a key or value that is not base64"};
    entry.key = std::move(*key);
    entry.value = std::move(*value);
    entry.create_revision = number(kv, "create_revision");
    entry.mod_revision = number(kv, "mod_revision");
    entry.lease = number(kv, "lease");
    result.push_back(std::move(entry));
  }
  return result;
}

/// The key just after every key starting with `prefix` (etcd's range end).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

json put_request(const std::string& key, const std::string& value,
                 std::int64_t lease) {
  json put{{"key", base64(key)}, {"value", base64(value)}};
  if (lease != 0)
    put["lease"] = std::to_string(lease);
  return json{{"request_put", put}};
}

} // namespace

etcd_client::etcd_client(std::vector<endpoint> members,
                         std::chrono::milliseconds timeout)
    : members_(std::move(members)), timeout_(timeout) {
  // nop
}

expected<std::string> etcd_client::call(const std::string& path,
                                        const std::string& body) {
  if (members_.empty())
    return error{errc::invalid_argument, "etcd: no members given"};
  std::string failures;
  auto first = preferred_.load();
  for (std::size_t k = 0; k < members_.size(); ++k) {
    auto index = (first + k) % members_.size();
    const auto& member = members_[index];
    try {
      boost::asio::io_context io;
      tcp::resolver resolver{io};
      beast::tcp_stream stream{io};
      stream.expires_after(timeout_);
      auto addresses =
          resolver.resolve(member.host, std::to_string(member.port));
      stream.connect(addresses);
      http::request<http::string_body> request{http::verb::post, path, 11};
      request.set(http::field::host, member.host);
      request.set(http::field::content_type, "application/json");
      request.body() = body;
      request.prepare_payload();
      http::write(stream, request);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(max_response);
      http::read(stream, buffer, parser);
      auto response = parser.release();
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      if (response.result() != http::status::ok) {
        failures += " " + to_string(member) + ": HTTP " +
                    std::to_string(response.result_int()) + " " +
                    response.body().substr(0, 200) + ";";
        continue;
      }
      preferred_ = index;
      return std::move(response.body());
    } catch (const std::exception& failure) {
      failures += " " + to_string(member) + ": " + failure.what() + ";";
    }
  }
  return error{errc::variable_unavailable,
               "etcd " + path + ": no member answered:" + failures};
}

expected<std::int64_t> etcd_client::grant_lease(std::int64_t ttl_seconds) {
  auto body = call("/v3/lease/grant",
                   json{{"TTL", std::to_string(ttl_seconds)}}.dump());
  if (!body)
    return body.error();
  auto response = parse(*body, "lease grant");
  if (!response)
    return response.error();
  auto id = number(*response, "ID");
  if (id == 0)
    return error{errc::variable_unavailable, "etcd granted no lease: " + *body};
  return id;
}

expected<std::int64_t> etcd_client::keep_alive(std::int64_t lease) {
  auto body =
      call("/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}.dump());
  if (!body)
    return body.error();
  auto response = parse(*body, "lease keepalive");
  if (!response)
    return response.error();
  auto result = response->find("result");
  if (result == response->end())
    return error{errc::variable_unavailable,
                 "etcd lease keepalive: no result: " + body->substr(0, 200)};
  return number(*result, "TTL");
}

expected<void> etcd_client::revoke(std::int64_t lease) {
  auto body =
      call("/v3/lease/revoke", json{{"ID", std::to_string(lease)}}.dump());
  if (!body)
    return body.error();
  if (auto response = parse(*body, "lease revoke"); !response)
    return response.error();
  return {};
}

expected<std::optional<etcd_entry>> etcd_client::get(const std::string& key) {
  auto body = call("/v3/kv/range", json{{"key", base64(key)}}.dump());
  if (!body)
    return body.error();
  auto response = parse(*body, "get");
  if (!response)
    return response.error();
  auto entries = entries_of(*response);
  if (!entries)
    return entries.error();
  if (entries->empty())
    return std::optional<etcd_entry>{};
  return std::optional<etcd_entry>{std::move(entries->front())};
}

expected<std::vector<etcd_entry>>
etcd_client::get_prefix(const std::string& prefix) {
  auto body =
      call("/v3/kv/range", json{{"key", base64(prefix)},
                                {"range_end", base64(prefix_end(prefix))}}
                               .dump());
  if (!body)
    return body.error();
  auto response = parse(*body, "get prefix");
  if (!response)
    return response.error();
  return entries_of(*response);
}

expected<void> etcd_client::put(const std::string& key,
                                const std::string& value, std::int64_t lease) {
  auto request = put_request(key, value, lease)["request_put"];
  auto body = call("/v3/kv/put", request.dump());
  if (!body)
    return body.error();
  if (auto response = parse(*body, "put"); !response)
    return response.error();
  return {};
}

expected<bool>
etcd_client::transaction(const std::vector<etcd_compare>& compares,
                         const std::vector<etcd_put>& puts) {
  auto conditions = json::array();
  for (const auto& compare : compares) {
    if (compare.absent)
      conditions.push_back(json{{"key", base64(compare.key)},
                                {"target", "CREATE"},
                                {"result", "EQUAL"},
                                {"create_revision", "0"}});
    else
      conditions.push_back(json{{"key", base64(compare.key)},
                                {"target", "VALUE"},
                                {"result", "EQUAL"},
                                {"value", base64(compare.value)}});
  }
  auto success = json::array();
  for (const auto& put : puts)
    success.push_back(put_request(put.key, put.value, put.lease));
  auto body = call("/v3/kv/txn",
                   json{{"compare", conditions}, {"success", success}}.dump());
  if (!body)
    return body.error();
  auto response = parse(*body, "transaction");
  if (!response)
    return response.error();
  return response->value("succeeded", false);
}

expected<void> etcd_client::erase(const std::string& key) {
  auto body = call("/v3/kv/deleterange", json{{"key", base64(key)}}.dump());
  if (!body)
    return body.error();
  if (auto response = parse(*body, "delete"); !response)
    return response.error();
  return {};
}

expected<std::pair<std::vector<endpoint>, std::string>>
parse_etcd_url(const std::string& url) {
  const std::string scheme = "etcd://";
  if (!url.starts_with(scheme))
    return error{errc::invalid_argument,
                 "coordinator: '" + url +
                     "' is not an etcd URL (expected etcd://host:port[,"
                     "host:port...][/prefix])"};
  auto rest = url.substr(scheme.size());
  std::string prefix = "/varsync";
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    prefix = rest.substr(slash);
    rest.resize(slash);
    while (prefix.size() > 1 && prefix.back() == '/')
      prefix.pop_back();
  }
  auto members = parse_endpoints(rest, "coordinator");
  if (!members)
    return members.error();
  return std::pair{std::move(*members), std::move(prefix)};
}

} // namespace varsync

#pragma GCC diagnostic pop
