// A test-only program that commits, on request, the faults the sanitizers catch, so the harness
// can show that a child's report fails the test even when the exit code looks expected:
//   canary leak | overflow | ub | exit N
// Built with the project's flags, so it is instrumented exactly when relicense is.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Opaque to the optimiser, so the faults below are not folded away at compile time.
int opaque(int v) {
  volatile int x = v;
  return x;
}

// Each block's only pointer is overwritten by the next: all but the last are unreachable, however
// registers and stack slots happen to be reused, so LeakSanitizer reports them at exit.
[[gnu::noinline]] void leak_blocks() {
  for (int i = 0; i < 100; ++i) {
    volatile char* block = new char[static_cast<unsigned>(opaque(100 + i))];
    block[0] = 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argv[1];
  if (std::strcmp(mode, "leak") == 0) {
    leak_blocks();
    return 1;
  }
  if (std::strcmp(mode, "overflow") == 0) {
    char* a = new char[4]();
    char copy[8] = {};
    // Past the end, through a real memcpy call (its size is not known at compile time):
    // AddressSanitizer's heap-buffer-overflow (a plain load would meet UBSan's object-size check).
    std::memcpy(copy, a, static_cast<std::size_t>(opaque(8)));
    delete[] a;
    std::printf("%d\n", copy[0]);
    return 1;
  }
  if (std::strcmp(mode, "ub") == 0) {
    const int big = opaque(INT_MAX);
    std::printf("%d\n", big + opaque(1));  // signed overflow: UndefinedBehaviorSanitizer
    return 1;
  }
  if (std::strcmp(mode, "exit") == 0 && argc > 2) return std::atoi(argv[2]);
  return 2;
}
