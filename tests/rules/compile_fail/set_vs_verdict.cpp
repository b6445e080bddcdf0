// Compile-fail: a tensor set compared with a verdict (a boolean).
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto g = collection("gradients");
  auto e = mean(g) < any(mean(g) > 1.0);
  (void)e;
}
