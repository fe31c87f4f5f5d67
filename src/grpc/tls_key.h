#pragma once
// k6/net/grpc's tls.password: an encrypted PEM private key (traditional
// "Proc-Type: 4,ENCRYPTED" or PKCS#8 "ENCRYPTED PRIVATE KEY") is decrypted with
// OpenSSL and handed to gRPC as plain PEM, in memory only.

#include <stdexcept>
#include <string>

namespace herd::rpc {

class TlsKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The key in `pem` decrypted with `password`, as unencrypted PKCS#8 PEM.
/// Throws TlsKeyError (a wrong password, or no key in `pem`).
std::string decrypt_pem_key(const std::string& pem, const std::string& password);

}  // namespace herd::rpc
