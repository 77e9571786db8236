#include "runtime/transport/tls_certificates.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace varsync::tls {

namespace {

template <class T, void (*Free)(T*)> struct deleter {
  void operator()(T* x) const { Free(x); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using cert_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using store_ptr =
    std::unique_ptr<X509_STORE, deleter<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr =
    std::unique_ptr<X509_STORE_CTX,
                    deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

/// The last OpenSSL error as text ("no OpenSSL error" when none).
std::string openssl_error() {
  auto code = ERR_get_error();
  ERR_clear_error();
  if (code == 0)
    return "no OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

error failure(const std::string& what) {
  return error{errc::invalid_argument, what};
}

bool exists(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0;
}

/// A fresh EC P-256 key.
key_ptr new_key() {
  return key_ptr{EVP_EC_gen("P-256")};
}

/// Adds extension `nid` = `value` to `cert`, with `issuer` for key ids.
bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, cert, nullptr, nullptr, 0);
  auto* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr)
    return false;
  auto added = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return added;
}

/// A certificate for `key` named `common_name`, signed by `issuer_key`
/// (self-signed when `issuer` is null).
cert_ptr new_certificate(EVP_PKEY* key, const std::string& common_name,
                         X509* issuer, EVP_PKEY* issuer_key, bool is_ca) {
  cert_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), 2) != 1)
    return nullptr;
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1)
    return nullptr;
  serial[0] &= 0x7f; // a positive serial number
  auto* number = BN_bin2bn(serial, sizeof(serial), nullptr);
  auto* as_integer =
      BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert.get()));
  BN_free(number);
  if (as_integer == nullptr)
    return nullptr;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(
      cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  auto* signer = issuer != nullptr ? issuer : cert.get();
  bool ok =
      add_extension(cert.get(), signer, NID_basic_constraints,
                    is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
      add_extension(cert.get(), signer, NID_key_usage,
                    is_ca ? "critical,keyCertSign,cRLSign"
                          : "critical,digitalSignature") &&
      add_extension(cert.get(), signer, NID_subject_key_identifier, "hash") &&
      (is_ca || add_extension(cert.get(), signer, NID_ext_key_usage,
                              "serverAuth,clientAuth"));
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0)
    return nullptr;
  return cert;
}

/// Writes `write(file)` to a new file `path` with `mode`.
template <class Write>
expected<void> write_new_file(const std::string& path, mode_t mode,
                              Write write) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return failure("cannot create '" + path + "': " + std::strerror(errno));
  auto* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    ::close(fd);
    return failure("cannot write '" + path + "': " + std::strerror(errno));
  }
  auto written = write(file) == 1;
  auto closed = std::fclose(file) == 0;
  if (!written || !closed)
    return failure("cannot write '" + path + "': " + openssl_error());
  return {};
}

expected<void> write_pair(const std::string& stem, EVP_PKEY* key, X509* cert) {
  if (auto done = write_new_file(stem + ".key", 0600,
                                 [&](FILE* file) {
                                   return PEM_write_PrivateKey(
                                       file, key, nullptr, nullptr, 0, nullptr,
                                       nullptr);
                                 });
      !done)
    return done;
  return write_new_file(stem + ".pem", 0644,
                        [&](FILE* file) { return PEM_write_X509(file, cert); });
}

/// Reads a PEM file with `read` (PEM_read_X509, PEM_read_PrivateKey).
template <class T, class Read>
expected<T> read_pem(const std::string& path, const char* what, Read read) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    return failure(std::string{what} + " '" + path +
                   "' cannot be read: " + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    return failure(std::string{what} + " '" + path + "' is not a regular file");
  auto* file = std::fopen(path.c_str(), "re");
  if (file == nullptr)
    return failure(std::string{what} + " '" + path +
                   "' cannot be read: " + std::strerror(errno));
  T result{read(file)};
  std::fclose(file);
  if (!result)
    return failure(std::string{what} + " '" + path +
                   "' is not a PEM file of that kind (" + openssl_error() +
                   ")");
  return result;
}

expected<cert_ptr> read_certificate(const std::string& path, const char* what) {
  return read_pem<cert_ptr>(path, what, [](FILE* file) {
    return PEM_read_X509(file, nullptr, nullptr, nullptr);
  });
}

expected<key_ptr> read_key(const std::string& path) {
  return read_pem<key_ptr>(path, "TLS key", [](FILE* file) {
    return PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  });
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "ca")
    return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return name.front() != '.';
}

} // namespace

expected<void> create_cluster_ca(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return failure("cannot create the directory '" + dir +
                   "': " + std::strerror(errno));
  if (exists(dir + "/ca.pem"))
    return error{errc::already_exists,
                 "'" + dir +
                     "/ca.pem' exists: this directory has a CA already"};
  auto key = new_key();
  if (!key)
    return failure("cannot make a key: " + openssl_error());
  auto cert = new_certificate(key.get(), "varsync cluster CA", nullptr,
                              key.get(), true);
  if (!cert)
    return failure("cannot make the CA certificate: " + openssl_error());
  return write_pair(dir + "/ca", key.get(), cert.get());
}

expected<void> issue_node_certificate(const std::string& dir,
                                      const std::string& name) {
  if (!valid_name(name))
    return failure("node name '" + name +
                   "' must be 1-64 letters, digits, '.', '_' or '-' (not "
                   "'ca', not starting with '.')");
  if (exists(dir + "/" + name + ".pem"))
    return error{errc::already_exists,
                 "'" + dir + "/" + name + ".pem' exists already"};
  auto ca = read_certificate(dir + "/ca.pem", "CA certificate");
  if (!ca)
    return ca.error();
  auto ca_key = read_key(dir + "/ca.key");
  if (!ca_key)
    return ca_key.error();
  auto key = new_key();
  if (!key)
    return failure("cannot make a key: " + openssl_error());
  auto cert = new_certificate(key.get(), name, ca->get(), ca_key->get(), false);
  if (!cert)
    return failure("cannot make the certificate: " + openssl_error());
  return write_pair(dir + "/" + name, key.get(), cert.get());
}

expected<void> check_tls_files(const std::string& certificate,
                               const std::string& key, const std::string& ca) {
  auto cert = read_certificate(certificate, "TLS certificate");
  if (!cert)
    return cert.error();
  auto private_key = read_key(key);
  if (!private_key)
    return private_key.error();
  auto authority = read_certificate(ca, "TLS CA certificate");
  if (!authority)
    return authority.error();
  if (X509_check_private_key(cert->get(), private_key->get()) != 1) {
    ERR_clear_error();
    return failure("TLS key '" + key +
                   "' does not belong to the certificate '" + certificate +
                   "'");
  }
  store_ptr store{X509_STORE_new()};
  store_ctx_ptr context{X509_STORE_CTX_new()};
  if (!store || !context ||
      X509_STORE_add_cert(store.get(), authority->get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), cert->get(), nullptr) !=
          1)
    return failure("cannot check the TLS certificate: " + openssl_error());
  if (X509_verify_cert(context.get()) != 1) {
    auto reason =
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.get()));
    ERR_clear_error();
    return failure("TLS certificate '" + certificate +
                   "' is not signed by the CA '" + ca + "' (" + reason + ")");
  }
  return {};
}

} // namespace varsync::tls
