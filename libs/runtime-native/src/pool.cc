#include "pool.h"

#include <algorithm>
#include <memory>

namespace lumen {

Pool::Pool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; i++) workers_.emplace_back([this, i] { loop(i); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void Pool::loop(int index) {
  unsigned seen = 0;
  for (;;) {
    const std::function<void(int)>* job;
    int parts;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      parts = parts_;
    }
    if (index < parts) (*job)(index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void Pool::run(int parts, const std::function<void(int)>& fn) {
  parts = std::min(parts, threads_);
  if (parts <= 1) {
    fn(0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    parts_ = parts;
    pending_ = threads_ - 1;
    generation_++;
  }
  wake_.notify_all();
  fn(0);
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
}

static std::unique_ptr<Pool> global_pool;

static int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 8u));
}

Pool& pool() {
  if (!global_pool) global_pool.reset(new Pool(default_threads()));
  return *global_pool;
}

void set_pool_threads(int threads) {
  if (global_pool && global_pool->size() == threads) return;
  global_pool.reset(new Pool(threads));
}

int parallel_parts(long count, long grain, const std::function<void(int, long, long)>& fn) {
  if (count <= 0) return 0;
  const int parts = static_cast<int>(std::min<long>(pool().size(), std::max<long>(1, count / std::max<long>(1, grain))));
  if (parts <= 1) {
    fn(0, 0, count);
    return 1;
  }
  pool().run(parts, [&](int part) {
    const long begin = count * part / parts;
    const long end = count * (part + 1) / parts;
    if (begin < end) fn(part, begin, end);
  });
  return parts;
}

void parallel_for(long count, long grain, const std::function<void(long, long)>& fn) {
  parallel_parts(count, grain, [&](int, long begin, long end) { fn(begin, end); });
}

}  // namespace lumen
