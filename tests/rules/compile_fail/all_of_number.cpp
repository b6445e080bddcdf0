// Compile-fail: all(3.0): a quantifier over a plain number.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = all(3.0);
  (void)e;
}
