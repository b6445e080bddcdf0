// libFuzzer target for the `.rule` front end: any text is parsed and checked, every diagnostic is
// rendered, and the checked rules are used to validate a `--param` override built from the input.
// Contract under test: any input gives a program with diagnostics (or a parse_error for the
// override) — never a crash, a hang, a stack overflow, an out-of-bounds read (ASan) or undefined
// behaviour (UBSan). The grammar has a nesting limit (tdbg::lang::max_nesting_depth) for this.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tdbg/lang/overrides.hpp"
#include "tdbg/lang/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto prog = tdbg::lang::parse(text, "fuzz.rule");
  const std::string rendered = tdbg::lang::format_diagnostics(prog.diagnostics);
  if (!prog.diagnostics.empty() && rendered.empty()) __builtin_trap();  // every diagnostic renders
  if (prog.ok() != (tdbg::lang::error_count(prog.diagnostics) == 0)) __builtin_trap();
  for (const auto& r : prog.checked) {
    for (const auto& p : r.parameters) {
      // The input's last line doubles as an override value.
      const auto nl = text.rfind('\n');
      const std::string value = nl == std::string::npos ? text.substr(0, 64) : text.substr(nl + 1, 64);
      try {
        (void)tdbg::lang::validate_override(prog.checked, r.name + "." + p.name + "=" + value);
      } catch (const tdbg::lang::parse_error&) {
        // a clear error is the expected outcome for a bad value
      }
    }
  }
  return 0;
}
