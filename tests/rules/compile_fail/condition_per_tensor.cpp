// Compile-fail: a rule whose condition is a per-tensor boolean (not quantified).
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto r = make_rule("R", mean(collection("gradients")) > 1.0);
  (void)r;
}
