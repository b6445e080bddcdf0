// Compile-fail: a window over a tensor set.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = window_mean(mean(collection("gradients")), 5);
  (void)e;
}
