// Compile-fail: reducing something already reduced.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = mean(l2(collection("g")));
  (void)e;
}
