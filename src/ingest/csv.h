// CsvReader: a streaming reader of delimited text (RFC 4180 and its common variants).
//
// Accepts: quoted fields holding delimiters, doubled quotes and line breaks; ',' ';' '\t' '|' or
// any other one-byte delimiter; LF or CRLF line ends; a UTF-8 byte order mark; a last line
// without a line end. Blank lines are skipped. The input is read in chunks, so a file of any size
// needs memory for one chunk and the longest record only.
//
// Bad input is reported per record, never by failing the whole read: a record whose field count
// differs from the header's (or from the first record's, without a header) is kRaggedRow; a quote
// that is never closed is kUnterminatedQuote; a record longer than max_record_bytes is
// kRecordTooLong. After the last two, reading resumes at the line after the record's first line,
// so one stray quote costs one line, not the rest of the file. Text after a closing quote and
// before the next delimiter is kept as data (`"ab"c` reads as `abc`), as most CSV readers do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recsys {

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';                   // '\0': no quoting, every quote character is data
  bool header = true;                 // the first record names the columns
  size_t chunk_bytes = 1 << 20;       // bytes read from the source at a time
  size_t max_record_bytes = 1 << 20;  // longer records are kRecordTooLong
};

enum class CsvProblem { kNone, kRaggedRow, kUnterminatedQuote, kRecordTooLong };
// "ragged_row", "unterminated_quote", "record_too_long" ("" for kNone).
std::string_view CsvProblemName(CsvProblem problem);

// One record. The views point into the reader and stay valid until its next call to Next.
struct CsvRecord {
  std::vector<std::string_view> fields;
  int64_t line = 0;      // 1-based line of the input where the record starts (the header is line 1)
  std::string_view raw;  // the record as it stands in the input, without its line end
  CsvProblem problem = CsvProblem::kNone;
  std::string message;  // what is wrong, when problem != kNone: "has 3 fields, the header has 4"
};

// Where the bytes come from.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes into dst; 0 at the end of the input.
  virtual Result<size_t> Read(char* dst, size_t n) = 0;
};

// A file (read with read(2)); NotFound / IOError naming the path.
Result<std::unique_ptr<ByteSource>> OpenFileSource(const std::string& path);
// In-memory bytes handed out at most max_read bytes per Read (tests use 1 to hit every boundary).
std::unique_ptr<ByteSource> StringSource(std::string data, size_t max_read = SIZE_MAX);

class CsvReader {
 public:
  // Reads the header when options.header. `name` names the input in messages.
  static Result<std::unique_ptr<CsvReader>> Open(std::unique_ptr<ByteSource> source,
                                                 std::string name, const CsvOptions& options);
  static Result<std::unique_ptr<CsvReader>> OpenFile(const std::string& path,
                                                     const CsvOptions& options);

  // The column names (empty without a header, or for an empty input).
  const std::vector<std::string>& header() const { return header_; }
  // The index of the column whose name equals `name`, ignoring ASCII case and surrounding blanks.
  std::optional<int> FindColumn(std::string_view name) const;

  // Fills *record with the next record and returns true; false at the end of the input. Fails
  // only when the source does.
  Result<bool> Next(CsvRecord* record);

  const std::string& name() const { return name_; }
  // Bytes taken from the source so far.
  int64_t bytes_read() const { return bytes_read_; }

 private:
  enum class Step { kRecord, kNeedMore, kUnterminated };
  struct Span {
    bool in_scratch;
    size_t offset, size;
  };

  CsvReader(std::unique_ptr<ByteSource> source, std::string name, const CsvOptions& options);
  Status Fill();  // reads one more chunk, keeping the bytes from pos_ on
  Step Parse(CsvRecord* record);
  void Resync(CsvRecord* record, CsvProblem problem, std::string message);

  std::unique_ptr<ByteSource> source_;
  std::string name_;
  CsvOptions options_;
  std::string buf_;  // unconsumed input from pos_ on
  size_t pos_ = 0;
  bool eof_ = false;
  bool skipping_line_ = false;  // dropping the rest of an over-long line
  int64_t line_ = 1;            // line number at pos_
  int64_t bytes_read_ = 0;
  std::string scratch_;   // unescaped quoted fields of the current record
  std::string raw_copy_;  // raw text kept when the buffer had to be dropped
  std::vector<Span> spans_;
  size_t next_ = 0;       // where the record Parse found ends (after its line end)
  int64_t newlines_ = 0;  // line breaks inside that record
  std::vector<std::string> header_;
  std::optional<size_t> expected_fields_;
  bool started_ = false;
};

// A delimiter as a user writes it: "," ";" "|" "tab" (or a tab, or "\t"), "comma", "semicolon",
// "pipe". InvalidArgument otherwise.
Result<char> ParseDelimiter(std::string_view text);

// Bytes as UTF-8: valid sequences are kept, every other byte becomes U+FFFD.
std::string ValidUtf8(std::string_view s);
// ISO 8859-1 bytes as UTF-8.
void Latin1ToUtf8(std::string_view s, std::string* out);

}  // namespace recsys
