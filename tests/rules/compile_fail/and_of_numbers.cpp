// Compile-fail: && of numbers.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = the(mean(tensor_named("a"))) && the(mean(tensor_named("b")));
  (void)e;
}
