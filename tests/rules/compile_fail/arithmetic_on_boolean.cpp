// Compile-fail: arithmetic on a verdict.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = any(mean(collection("g")) > 1.0) + 1.0;
  (void)e;
}
