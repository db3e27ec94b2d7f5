// A tiny fixed thread pool: the caller runs part 0 itself, workers run the rest, and the
// call returns when every part is done. Kernel calls come one at a time from Node's main
// thread, so one job is in flight at once.
#pragma once
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lumen {

class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  int size() const { return threads_; }
  // Runs fn(part) for part in [0, parts), parts <= size().
  void run(int parts, const std::function<void(int)>& fn);

 private:
  void loop(int index);
  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0;
  int pending_ = 0;
  unsigned generation_ = 0;
  bool stop_ = false;
};

Pool& pool();
void set_pool_threads(int threads);

// Splits [0, count) into at most size() contiguous ranges of at least `grain` items.
void parallel_for(long count, long grain, const std::function<void(long, long)>& fn);

// The same split, telling fn its part index; returns the number of parts. Callers that
// reduce combine per-part results in part order, so sums do not depend on thread timing.
int parallel_parts(long count, long grain, const std::function<void(int, long, long)>& fn);

// Column sums over rows in float64, deterministic: add_row(r, acc) adds row r into `width`
// accumulators; each part accumulates its own rows, then parts are added in part order.
template <typename AddRow>
std::vector<double> ordered_column_sums(long rows, size_t width, long grain, AddRow add_row) {
  std::vector<std::vector<double>> partial(pool().size(), std::vector<double>(width, 0.0));
  const int parts = parallel_parts(rows, grain, [&](int part, long r0, long r1) {
    double* acc = partial[part].data();
    for (long r = r0; r < r1; r++) add_row(r, acc);
  });
  std::vector<double> totals(width, 0.0);
  for (int p = 0; p < parts; p++) {
    for (size_t i = 0; i < width; i++) totals[i] += partial[p][i];
  }
  return totals;
}

}  // namespace lumen
