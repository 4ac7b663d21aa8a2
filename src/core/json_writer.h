// A small streaming JSON writer for summaries and reports (not the event hot path).
//   JsonWriter w; w.BeginObject(); w.Key("records"); w.Int(12); w.EndObject(); w.str();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace recsys {

class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(std::string_view key);
  void String(std::string_view v);
  void Int(int64_t v);
  void Double(double v);  // non-finite values are written as null
  void Bool(bool v);
  void Null();
  // Inserts already-encoded JSON as a value.
  void Raw(std::string_view json);
  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

// Appends s as a JSON string literal (quotes included), escaping as RFC 8259 requires.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace recsys
