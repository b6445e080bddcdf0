// Compile-fail: a rule whose condition is a number.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto r = make_rule("R", the(mean(tensor_named("loss"))));
  (void)r;
}
