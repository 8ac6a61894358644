// build_info.cpp — quartet_build_info: what this binary is and what it found on this machine (JSON).
#include <stdio.h>
#include <string>
#include <thread>

#include "core/ops.h"
#include "core/parallel.h"
#include "core/status.h"
#include "source_hash.h"

#ifndef QUARTET_COMPILER
#define QUARTET_COMPILER "unknown"
#endif

namespace {

std::string json_escape(const char* s) {
  std::string o;
  for (; s && *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { o += '\\'; o += (char)ch; }
    else if (ch < 0x20) { char b[8]; snprintf(b, sizeof b, "\\u%04x", ch); o += b; }
    else o += (char)ch;
  }
  return o;
}

}  // namespace

extern "C" QUARTET_API int32_t quartet_build_info(const char** json) {
  using namespace quartet;
  if (!json) return fail(QUARTET_ERR_NULL_POINTER, "quartet_build_info", "json must not be NULL");
  static thread_local std::string out;
  char buf[256];
  out = "{";
  snprintf(buf, sizeof buf, "\"version\":\"%d.%d.%d\",", QUARTET_VERSION_MAJOR, QUARTET_VERSION_MINOR,
           QUARTET_VERSION_PATCH);
  out += buf;
  out += "\"source_hash\":\"" QUARTET_SOURCE_HASH "\",";
  out += "\"compiler\":\"" + json_escape(QUARTET_COMPILER) + "\",";
  snprintf(buf, sizeof buf, "\"cpu_threads\":%d,", cpu_threads());
  out += buf;
  out += "\"cuda\":{";
  out += cuda::compiled() ? "\"compiled\":true," : "\"compiled\":false,";
  out += "\"version\":\"" + json_escape(cuda::runtime_version()) + "\",";
  out += "\"archs\":[";
  std::string archs = cuda::arch_list();
  bool first = true;
  size_t pos = 0;
  while (pos < archs.size()) {
    size_t comma = archs.find(',', pos);
    std::string a = archs.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!a.empty()) { out += first ? "" : ","; out += "\"sm_" + a + "\""; first = false; }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  out += "]},";
  out += "\"devices\":[";
  int32_t n = 0;
  if (cuda::compiled() && cuda::device_count(&n) == QUARTET_OK) {
    for (int32_t d = 0; d < n; ++d) {
      char name[256] = "";
      int32_t maj = 0, min = 0, sms = 0;
      int64_t total = 0;
      if (cuda::device_info(d, name, sizeof name, &maj, &min, &total, &sms) != QUARTET_OK) continue;
      snprintf(buf, sizeof buf, "%s{\"index\":%d,\"name\":\"", d ? "," : "", d);
      out += buf;
      out += json_escape(name);
      snprintf(buf, sizeof buf, "\",\"compute_capability\":\"%d.%d\",\"memory_bytes\":%lld,\"sm_count\":%d}", maj, min,
               (long long)total, sms);
      out += buf;
    }
  }
  out += "],";
  out += "\"optional\":";
  out += cuda::optional_libraries_json();
  out += "}";
  quartet_clear_error();
  *json = out.c_str();
  return QUARTET_OK;
}
