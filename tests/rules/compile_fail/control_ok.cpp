// Compile-fail: control: a valid composition compiles with the same harness.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto g = collection("gradients");
  auto r = make_rule("VanishingGradient", any(mean(abs(g)) < 1e-7) && !all(l2(g - prev(g)) > 0.0));
  (void)r;
}
