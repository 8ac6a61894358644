// parallel.cpp — a small fork-join pool (std::thread; libstdc++ is linked statically).
#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace quartet {
namespace {

class Pool {
 public:
  ~Pool() { stop_all(); }

  int32_t size() {
    std::lock_guard<std::mutex> g(config_);
    ensure_started();
    return (int32_t)workers_.size() + 1;
  }

  void resize(int32_t n) {
    std::lock_guard<std::mutex> g(config_);
    stop_all();
    want_ = n;
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    std::lock_guard<std::mutex> g(config_);  // one parallel region at a time
    ensure_started();
    int64_t chunks = std::max<int64_t>(1, std::min<int64_t>((n + grain - 1) / grain, 4 * ((int64_t)workers_.size() + 1)));
    if (workers_.empty() || chunks == 1) {
      fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &fn;
      job_n_ = n;
      job_chunks_ = chunks;
      next_.store(0);
      done_ = 0;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return done_ == (int)workers_.size(); });
    job_ = nullptr;
  }

 private:
  void ensure_started() {
    if (started_) return;
    int32_t n = want_ > 0 ? want_ : (int32_t)std::max(1u, std::thread::hardware_concurrency());
    stopping_ = false;
    for (int32_t i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
    started_ = true;
  }

  void stop_all() {
    if (!started_) return;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stopping_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    started_ = false;
  }

  void work() {
    for (;;) {
      int64_t c = next_.fetch_add(1);
      if (c >= job_chunks_) break;
      int64_t b = job_n_ * c / job_chunks_, e = job_n_ * (c + 1) / job_chunks_;
      if (b < e) (*job_)(b, e);
    }
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (stopping_) return;
      }
      work();
      {
        std::lock_guard<std::mutex> lk(mu_);
        ++done_;
      }
      done_cv_.notify_one();
    }
  }

  std::mutex config_, mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0, job_chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int done_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false, started_ = false;
  int32_t want_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: no join at process exit
  return *p;
}

}  // namespace

int32_t cpu_threads() { return pool().size(); }
void set_cpu_threads(int32_t n) { pool().resize(n); }

static thread_local bool t_inside_region = false;

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain || t_inside_region) {  // nested regions run serially on the calling worker
    fn(0, n);
    return;
  }
  pool().run(n, grain, [&](int64_t b, int64_t e) {
    bool outer = t_inside_region;
    t_inside_region = true;
    fn(b, e);
    t_inside_region = outer;
  });
}

}  // namespace quartet
