// Compile-fail: mean of an element mask.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = mean(collection("g") > 0.0);
  (void)e;
}
