#include "cli/log_batcher.h"

namespace recsys {

Status LogBatcher::Add(std::string_view topic, std::string_view key, std::string_view value,
                       int64_t timestamp_ms) {
  auto it = pending_.find(topic);
  if (it == pending_.end()) it = pending_.emplace(std::string(topic), Pending{}).first;
  Pending& p = it->second;
  Pending::Span span{p.arena.size(), key.size(), p.arena.size() + key.size(), value.size(),
                     timestamp_ms};
  p.arena.append(key);
  p.arena.append(value);
  p.spans.push_back(span);
  if (p.spans.size() >= max_records_ || p.arena.size() >= max_bytes_) {
    return FlushTopic(it->first, &p);
  }
  return Status::OK();
}

Status LogBatcher::FlushTopic(const std::string& topic, Pending* p) {
  if (p->spans.empty()) return Status::OK();
  records_.clear();
  for (const Pending::Span& s : p->spans) {
    records_.push_back(LogRecord{std::string_view(p->arena).substr(s.key_off, s.key_len),
                                 std::string_view(p->arena).substr(s.value_off, s.value_len),
                                 s.ts});
  }
  Status st = log_->Append(topic, records_);
  if (!st.ok()) return st.WithContext("append to " + topic);
  appended_ += static_cast<int64_t>(p->spans.size());
  p->spans.clear();
  p->arena.clear();
  return Status::OK();
}

Status LogBatcher::Flush() {
  for (auto& [topic, p] : pending_) RECSYS_RETURN_IF_ERROR(FlushTopic(topic, &p));
  return Status::OK();
}

}  // namespace recsys
