// Storage for the state of a mode's tasks, addressed by task_id: slots are reused once released,
// so the ids stay small and the storage holds only what is in flight or waiting.
#pragma once

#include "relicense/engine/scheduler.hpp"

#include <utility>
#include <vector>

namespace relicense::engine {

template <class T>
class slot_pool {
public:
  /// Stores `v` and returns its id.
  task_id put(T v) {
    if (!free_.empty()) {
      const task_id t = free_.back();
      free_.pop_back();
      slots_[t] = std::move(v);
      return t;
    }
    slots_.push_back(std::move(v));
    return static_cast<task_id>(slots_.size() - 1);
  }
  T& operator[](task_id t) { return slots_[t]; }
  const T& operator[](task_id t) const { return slots_[t]; }
  /// Moves the value out and frees its slot.
  T take(task_id t) {
    T v = std::move(slots_[t]);
    release(t);
    return v;
  }
  /// Calls `f` on every slot, free ones too (they hold a default T).
  template <class F>
  void for_each(F&& f) const {
    for (const T& v : slots_) f(v);
  }
  void release(task_id t) {
    slots_[t] = T{};
    free_.push_back(t);
  }

private:
  std::vector<T> slots_;
  std::vector<task_id> free_;
};

}  // namespace relicense::engine
