// tools/tdbg/sha256.hpp — the value digest of the CLI's JSON contract (OpenSSL's libcrypto).
// Digest rules (as tests/data/smdebug/README.md): sha256 over the value's C-order little-endian
// bytes; bool: one byte 0/1 per element; strings: UTF-8 joined by a NUL byte.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "tdbg/core/error.hpp"
#include "tdbg/core/tensor.hpp"

namespace tdbg::cli {

[[nodiscard]] inline std::string sha256_hex(const tdbg::tensor& t) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw tdbg::error("sha256: cannot initialise OpenSSL digest");
  if (t.dtype() == tdbg::dtype::string) {
    const auto& s = t.strings();
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i) EVP_DigestUpdate(ctx.get(), "\0", 1);
      EVP_DigestUpdate(ctx.get(), s[i].data(), s[i].size());
    }
  } else {
    const auto b = t.bytes();  // bool is stored one byte 0/1 per element already
    EVP_DigestUpdate(ctx.get(), b.data(), b.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

}  // namespace tdbg::cli
