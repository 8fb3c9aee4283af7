// Test-only helpers live in headers; this file gives the library a translation unit.
#include "testing/fake_clock.hpp"
