// status.h — the thread-local error message behind quartet_last_error (contract §2).
#pragma once
#include <stdint.h>
#include "quartet.h"

namespace quartet {

// Records "fn: message" as this thread's last error and returns `code` (so: `return fail(...)`).
int32_t fail(int32_t code, const char* fn, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// Keeps the first failure of a group of calls: `QUARTET_TRY(expr)` returns early on error.
#define QUARTET_TRY(expr)                   \
  do {                                      \
    int32_t quartet_status_ = (expr);       \
    if (quartet_status_ != QUARTET_OK) return quartet_status_; \
  } while (0)

}  // namespace quartet
