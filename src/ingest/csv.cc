#include "ingest/csv.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace recsys {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
// Raw text kept for a record whose line had to be dropped unread.
constexpr size_t kMaxRawCopy = 1024;

class FileSource : public ByteSource {
 public:
  FileSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Result<size_t> Read(char* dst, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, dst, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return Status::FromErrno("read", path_, errno);
    }
  }

 private:
  int fd_;
  std::string path_;
};

class MemorySource : public ByteSource {
 public:
  MemorySource(std::string data, size_t max_read) : data_(std::move(data)), max_read_(max_read) {}
  Result<size_t> Read(char* dst, size_t n) override {
    n = std::min({n, max_read_, data_.size() - pos_});
    std::memcpy(dst, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t max_read_;
  size_t pos_ = 0;
};

// The first position in [i, end) holding the delimiter or '\n'; end if none.
size_t FindFieldEnd(const char* b, size_t i, size_t end, char delim) {
  while (i < end && b[i] != delim && b[i] != '\n') ++i;
  return i;
}

// j is where a field stops (delimiter, '\n' or end of input): the end of its text, leaving out
// the '\r' of a CRLF line end.
size_t TextEnd(const char* b, size_t begin, size_t j, size_t end) {
  const bool line_end = j == end || b[j] == '\n';
  return line_end && j > begin && b[j - 1] == '\r' ? j - 1 : j;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Length of the valid UTF-8 sequence at s[0] (n >= 1 bytes), 0 if invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t Utf8Length(const unsigned char* s, size_t n) {
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  auto cont = [&](size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

std::string_view CsvProblemName(CsvProblem problem) {
  switch (problem) {
    case CsvProblem::kNone:
      return "";
    case CsvProblem::kRaggedRow:
      return "ragged_row";
    case CsvProblem::kUnterminatedQuote:
      return "unterminated_quote";
    case CsvProblem::kRecordTooLong:
      return "record_too_long";
  }
  return "";
}

Result<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open", path, errno);
  return std::unique_ptr<ByteSource>(std::make_unique<FileSource>(fd, path));
}

std::unique_ptr<ByteSource> StringSource(std::string data, size_t max_read) {
  return std::make_unique<MemorySource>(std::move(data), std::max<size_t>(max_read, 1));
}

CsvReader::CsvReader(std::unique_ptr<ByteSource> source, std::string name,
                     const CsvOptions& options)
    : source_(std::move(source)), name_(std::move(name)), options_(options) {
  options_.chunk_bytes = std::max<size_t>(options_.chunk_bytes, 1);
}

Result<std::unique_ptr<CsvReader>> CsvReader::Open(std::unique_ptr<ByteSource> source,
                                                   std::string name, const CsvOptions& options) {
  std::unique_ptr<CsvReader> r(new CsvReader(std::move(source), std::move(name), options));
  while (r->buf_.size() < kBom.size() && !r->eof_) RECSYS_RETURN_IF_ERROR(r->Fill());
  if (std::string_view(r->buf_).substr(0, kBom.size()) == kBom) r->pos_ = kBom.size();
  if (options.header) {
    CsvRecord record;
    RECSYS_ASSIGN_OR_RETURN(bool got, r->Next(&record));
    if (got) {
      for (std::string_view f : record.fields) r->header_.emplace_back(f);
      r->expected_fields_ = r->header_.size();
    }
  }
  return r;
}

Result<std::unique_ptr<CsvReader>> CsvReader::OpenFile(const std::string& path,
                                                       const CsvOptions& options) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, OpenFileSource(path));
  return Open(std::move(source), path, options);
}

std::optional<int> CsvReader::FindColumn(std::string_view name) const {
  name = TrimBlanks(name);
  for (size_t i = 0; i < header_.size(); ++i) {
    if (EqualsIgnoreCase(TrimBlanks(header_[i]), name)) return static_cast<int>(i);
  }
  return std::nullopt;
}

Status CsvReader::Fill() {
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + options_.chunk_bytes);
  Result<size_t> n = source_->Read(buf_.data() + old, options_.chunk_bytes);
  if (!n.ok()) {
    buf_.resize(old);
    return n.status();
  }
  buf_.resize(old + *n);
  bytes_read_ += static_cast<int64_t>(*n);
  if (*n == 0) eof_ = true;
  return Status::OK();
}

CsvReader::Step CsvReader::Parse(CsvRecord* record) {
  const char* b = buf_.data();
  const size_t end = buf_.size();
  const char delim = options_.delimiter;
  const char quote = options_.quote;
  spans_.clear();
  scratch_.clear();
  newlines_ = 0;
  size_t i = pos_;
  for (;;) {
    size_t j;  // where the field stops: a delimiter, '\n' or the end of the input
    if (quote != '\0' && i < end && b[i] == quote) {
      const size_t begin = scratch_.size();
      ++i;
      for (;;) {
        const void* q = std::memchr(b + i, quote, end - i);
        if (q == nullptr) return eof_ ? Step::kUnterminated : Step::kNeedMore;
        const size_t qi = static_cast<size_t>(static_cast<const char*>(q) - b);
        newlines_ += std::count(b + i, b + qi, '\n');
        scratch_.append(b + i, qi - i);
        // A quote at the end of the buffer may be the first of a doubled pair.
        if (qi + 1 == end && !eof_) return Step::kNeedMore;
        if (qi + 1 < end && b[qi + 1] == quote) {
          scratch_.push_back(quote);
          i = qi + 2;
          continue;
        }
        i = qi + 1;
        break;
      }
      j = FindFieldEnd(b, i, end, delim);
      if (j == end && !eof_) return Step::kNeedMore;
      scratch_.append(b + i, TextEnd(b, i, j, end) - i);
      spans_.push_back({true, begin, scratch_.size() - begin});
    } else {
      j = FindFieldEnd(b, i, end, delim);
      if (j == end && !eof_) return Step::kNeedMore;
      spans_.push_back({false, i, TextEnd(b, i, j, end) - i});
    }
    if (j < end && b[j] == delim) {
      i = j + 1;
      continue;
    }
    next_ = j < end ? j + 1 : j;
    record->raw = std::string_view(b + pos_, TextEnd(b, pos_, j, end) - pos_);
    return Step::kRecord;
  }
}

void CsvReader::Resync(CsvRecord* record, CsvProblem problem, std::string message) {
  const char* b = buf_.data();
  record->fields.clear();
  record->line = line_;
  record->problem = problem;
  record->message = std::move(message);
  const void* nl = std::memchr(b + pos_, '\n', buf_.size() - pos_);
  if (nl != nullptr) {
    const size_t k = static_cast<size_t>(static_cast<const char*>(nl) - b);
    record->raw = std::string_view(b + pos_, TextEnd(b, pos_, k, buf_.size()) - pos_);
    pos_ = k + 1;
    ++line_;
  } else if (eof_) {
    record->raw = std::string_view(b + pos_, buf_.size() - pos_);
    pos_ = buf_.size();
  } else {
    raw_copy_.assign(b + pos_, std::min(kMaxRawCopy, buf_.size() - pos_));
    record->raw = raw_copy_;
    pos_ = buf_.size();
    skipping_line_ = true;
  }
}

Result<bool> CsvReader::Next(CsvRecord* record) {
  record->problem = CsvProblem::kNone;
  record->message.clear();
  for (;;) {
    if (skipping_line_) {
      const void* nl = std::memchr(buf_.data() + pos_, '\n', buf_.size() - pos_);
      if (nl != nullptr) {
        pos_ = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) + 1;
        ++line_;
        skipping_line_ = false;
      } else {
        pos_ = buf_.size();
        if (eof_) return false;
        RECSYS_RETURN_IF_ERROR(Fill());
        continue;
      }
    }
    if (pos_ == buf_.size()) {
      if (eof_) return false;
      RECSYS_RETURN_IF_ERROR(Fill());
      continue;
    }
    // Blank lines (LF or CRLF) hold no record.
    if (buf_[pos_] == '\n') {
      ++pos_;
      ++line_;
      continue;
    }
    if (buf_[pos_] == '\r') {
      if (pos_ + 1 == buf_.size() && !eof_) {
        RECSYS_RETURN_IF_ERROR(Fill());
        continue;
      }
      if (pos_ + 1 == buf_.size() || buf_[pos_ + 1] == '\n') {
        pos_ += 2;
        pos_ = std::min(pos_, buf_.size());
        ++line_;
        continue;
      }
    }
    const Step step = Parse(record);
    if (step == Step::kNeedMore) {
      if (buf_.size() - pos_ > options_.max_record_bytes) {
        Resync(record, CsvProblem::kRecordTooLong,
               "record is longer than " + std::to_string(options_.max_record_bytes) +
                   " bytes (a quote never closed?)");
        return true;
      }
      RECSYS_RETURN_IF_ERROR(Fill());
      continue;
    }
    if (step == Step::kUnterminated) {
      Resync(record, CsvProblem::kUnterminatedQuote, "a quoted field is never closed");
      return true;
    }
    record->fields.clear();
    for (const Span& s : spans_) {
      const std::string& from = s.in_scratch ? scratch_ : buf_;
      record->fields.emplace_back(from.data() + s.offset, s.size);
    }
    record->line = line_;
    line_ += newlines_ + 1;
    pos_ = next_;
    if (!expected_fields_) {
      expected_fields_ = record->fields.size();
    } else if (record->fields.size() != *expected_fields_) {
      record->problem = CsvProblem::kRaggedRow;
      record->message = "has " + std::to_string(record->fields.size()) + " fields, " +
                        (options_.header ? "the header has " : "the first record has ") +
                        std::to_string(*expected_fields_);
    }
    return true;
  }
}

Result<char> ParseDelimiter(std::string_view s) {
  if (s == "," || s == "comma") return ',';
  if (s == ";" || s == "semicolon") return ';';
  if (s == "\t" || s == "\\t" || s == "tab") return '\t';
  if (s == "|" || s == "pipe") return '|';
  return Status::InvalidArgument("delimiter '" + std::string(s) + "' is not one of , ; | tab");
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    const size_t len = Utf8Length(p + i, s.size() - i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  return out;
}

void Latin1ToUtf8(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out->push_back(ch);
    } else {
      out->push_back(static_cast<char>(0xC0 | (c >> 6)));
      out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

}  // namespace recsys
