// Compile-fail: prev of a window.
#include "tdbg/rules/rules.hpp"
using namespace tdbg::rules;
int main() {
  auto e = prev(window_mean(the(mean(tensor_named("loss"))), 3));
  (void)e;
}
