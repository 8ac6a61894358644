// status.cpp — thread-local error messages; nothing here prints, aborts or throws.
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>

namespace quartet {

static thread_local char g_last_error[1024] = "";

int32_t fail(int32_t code, const char* fn, const char* fmt, ...) {
  int n = snprintf(g_last_error, sizeof g_last_error, "%s: ", fn);
  if (n < 0 || n >= (int)sizeof g_last_error) n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error + n, sizeof g_last_error - (size_t)n, fmt, ap);
  va_end(ap);
  return code;
}

}  // namespace quartet

extern "C" QUARTET_API const char* quartet_last_error(void) { return quartet::g_last_error; }

extern "C" QUARTET_API int32_t quartet_clear_error(void) {
  quartet::g_last_error[0] = '\0';
  return QUARTET_OK;
}
