// Helpers shared by the trial tests: fixture paths, sha256 digests of values (the digest rules of
// tests/data/smdebug/README.md), temporary directories, smdebug exception names.
#pragma once

#include <openssl/evp.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tdbg/core/error.hpp"
#include "tdbg/core/tensor.hpp"

namespace tdbg_test {

namespace fs = std::filesystem;

inline fs::path fixture_dir(const std::string& name) {
  return fs::path(TDBG_TEST_DATA) / "smdebug" / name;
}

inline nlohmann::json load_expected(const std::string& fixture) {
  std::ifstream in(fixture_dir(fixture) / "expected.json");
  if (!in) throw std::runtime_error("cannot open expected.json of " + fixture);
  return nlohmann::json::parse(in);
}

/// sha256 over the value's C-order little-endian bytes (bool: one byte 0/1; strings: UTF-8
/// joined by a NUL byte), as hex.
inline std::string sha256_hex(const tdbg::tensor& t) {
  std::string data;
  if (t.dtype() == tdbg::dtype::string) {
    for (std::size_t i = 0; i < t.strings().size(); ++i) {
      if (i) data.push_back('\0');
      data += t.strings()[i];
    }
  } else {
    const auto b = t.bytes();
    data.assign(reinterpret_cast<const char*>(b.data()), b.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("EVP_Digest failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

/// The smdebug exception a tdbg error corresponds to (spec §9.9).
inline std::string smdebug_name(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const tdbg::no_more_data_error&) {
    return "NoMoreData";
  } catch (const tdbg::step_not_yet_available_error&) {
    return "StepNotYetAvailable";
  } catch (const tdbg::step_unavailable_error&) {
    return "StepUnavailable";
  } catch (const tdbg::tensor_unavailable_for_step_error&) {
    return "TensorUnavailableForStep";
  } catch (const tdbg::tensor_unavailable_error&) {
    return "TensorUnavailable";
  } catch (const tdbg::invalid_worker_error&) {
    return "InvalidWorker";
  } catch (const tdbg::shape_unavailable_error&) {
    return "ShapeUnavailableForStep";
  } catch (const tdbg::missing_collection_files_error&) {
    return "MissingCollectionFiles";
  } catch (const tdbg::usage_error&) {
    return "SMDebugValueError";
  } catch (const tdbg::index_reader_error&) {
    return "IndexReaderException";
  } catch (const tdbg::format_error&) {
    return "format_error";
  } catch (const tdbg::error& x) {
    return std::string("tdbg::error: ") + x.what();
  } catch (const std::exception& x) {
    return std::string("std::exception: ") + x.what();
  }
}

/// The smdebug name of what `f` throws, or "" if it returns.
template <class F>
std::string raised(F&& f) {
  try {
    f();
  } catch (...) {
    return smdebug_name(std::current_exception());
  }
  return "";
}

/// A fresh temporary directory, removed at the end of the scope.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("tdbg_trial_" + std::to_string(rd()) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

inline void copy_file_to(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

}  // namespace tdbg_test
