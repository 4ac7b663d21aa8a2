// CsvImporter: a shop's past orders, ratings, catalog and customers from CSV files, as the events
// of DESIGN.md §3, so that a shop can start from its history.
//
// Each data row becomes one clickstream event: a purchase (order_id, quantity, unit price) or a
// product_view (with a rating). Every user and product becomes one signup / product_created event,
// timed at the earliest row that mentions it, with the attributes the source has; entries of a
// catalog or customer file that no row mentions are timed at the earliest row of the import.
// Those entity events are emitted by Finish, after all rows (topics are independent logs, so
// their order across topics carries no meaning).
//
// Event ids are deterministic: "imp-" and 24 hex digits of a hash of the preset, the file's name
// (not its folder), the row's line number and its text; for entity events, of the preset, the
// kind and the id. Importing the same file twice, from wherever, gives the same ids, which silver
// deduplicates; files of the same name with other rows (monthly exports) do not collide.
//
// Rows that cannot become events are quarantined with a reason and never stop the import:
//   ragged_row, unterminated_quote, record_too_long   the CSV itself is broken there
//   missing_user, missing_product                      the id column is empty
//   bad_time, future_time                              unparseable, out of range, after now + 1 h
//   bad_quantity                                       not a whole number, or zero or less
//   bad_price                                          not a number, or zero or less
//   bad_rating                                         not a number in [0, 10]
//   cancelled_invoice                                  online-retail: invoice number "C..."
//
// Presets (a FILE may also be the preset's folder):
//   online-retail  UCI Online Retail (InvoiceNo, StockCode, Description, Quantity, InvoiceDate,
//                  UnitPrice, CustomerID, Country; the Online Retail II names Invoice, Price,
//                  Customer ID work too). InvoiceDate "12/1/2010 8:26" is London local time
//                  (GMT/BST); prices are GBP; the first row's Description, UnitPrice and Country
//                  give a product's title and price and a customer's country. Copies saved as
//                  latin-1 need encoding "latin-1".
//   dunnhumby      The Complete Journey: transactions*.csv with products.csv and demographics.csv
//                  beside it. The price is sales_value / quantity (paid per unit after discounts,
//                  rounded to 6 decimals), in USD; basket_id is the order. Timestamps are
//                  America/New_York local time, converted with the US daylight saving rules.
//                  Products: category "department > product_category > product_type", brand
//                  (National / Private), title "product_type package_size". Households: age ->
//                  age_band; income, home ownership, marital status, household size and
//                  composition and kids count have no field in the event model and are dropped.
//   movielens      ML-100k u.data (tab-separated, no header) or ml-latest ratings.csv. Each
//                  rating becomes a product_view with that rating (stars, 0.5 to 5). Beside it,
//                  u.item (latin-1) or movies.csv give titles, category = the first genre and
//                  tags = all genres; u.user gives age_band and gender.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace recsys {

// How rows map to events. With a preset, fields left unset take the preset's values; without,
// the defaults written here. A column is a header name (case-insensitive) or a 0-based index.
struct ImportOptions {
  std::string preset;  // "", "online-retail", "dunnhumby" or "movielens"

  std::optional<char> delimiter;                            // default ','
  std::optional<bool> header;                               // default true
  std::optional<std::string> user_col, item_col, time_col;  // required without a preset
  std::optional<std::string> quantity_col, price_col, rating_col;
  std::optional<std::string> text_col;      // product title
  std::optional<std::string> order_col;     // default: one order per user and day
  std::optional<std::string> category_col;  // product category path
  std::optional<std::string> country_col;   // the user's country
  // "unix" (seconds), "unix-ms", "iso" (RFC 3339; without a zone: local time, see below; a date
  // alone is midnight), or a pattern of %Y %y %m %d %H %I %M %S %f %p %b and literal text
  // ("%m/%d/%Y %H:%M"; numbers may lack leading zeros). Default "iso".
  std::optional<std::string> time_format;
  // "purchase" or "product_view". Default: purchase when a price or quantity column is mapped.
  std::optional<std::string> event_type;
  std::optional<std::string> currency;  // of prices; default none
  // The zone of times that carry none: "UTC", "America/New_York" or "Europe/London" (with their
  // daylight saving rules), or a fixed utc_offset_minutes (local = UTC + offset). Default UTC.
  std::optional<std::string> timezone;
  std::optional<int> utc_offset_minutes;
  std::optional<std::string> encoding;  // "utf-8" (default) or "latin-1"

  // Catalog and customer file entries that no row mentions become events too.
  bool whole_catalog = true;
  // REQUIRES: set. Rows timed more than an hour after it are future_time.
  int64_t now_ms = 0;
  size_t chunk_bytes = 1 << 20;  // CSV read size
};

// A row that did not become an event. The views are valid during the Quarantine call only.
struct QuarantinedRow {
  std::string_view file;
  int64_t line;
  std::string_view reason;   // a code listed above
  std::string_view message;  // "UnitPrice '0' is not a positive number"
  std::string_view raw;      // the row as read
};

class ImportSink {
 public:
  virtual ~ImportSink() = default;
  virtual Status Emit(const Event& event) = 0;
  virtual Status Quarantine(const QuarantinedRow& row) = 0;
};

struct ImportStats {
  int64_t files = 0;
  int64_t rows = 0;               // data rows of the imported files (headers and blank lines aside)
  int64_t catalog_rows = 0;       // rows of the catalog and customer files beside them
  int64_t events[3] = {0, 0, 0};  // per Topic
  int64_t quarantined = 0;
  std::map<std::string, int64_t> quarantined_by_reason;
  int64_t users = 0, products = 0;         // signup and product_created events
  int64_t bytes = 0;                       // read from the imported files
  std::vector<std::string> catalog_files;  // catalog and customer files read beside them
};

class CsvImporter {
 public:
  // InvalidArgument for an unknown preset, delimiter, time format, event type, zone or encoding.
  static Result<std::unique_ptr<CsvImporter>> Create(const ImportOptions& options,
                                                     ImportSink* sink);
  ~CsvImporter();
  CsvImporter(const CsvImporter&) = delete;
  CsvImporter& operator=(const CsvImporter&) = delete;

  // Imports one file (or, for a preset, its folder). Fails on I/O errors, on missing columns and
  // when the sink fails; bad rows are quarantined instead.
  Status ImportPath(const std::string& path);
  // Emits the signup and product_created events. Call once, after the last ImportPath.
  Status Finish();

  const ImportStats& stats() const;
  // Called now and then with the bytes read so far from all imported files, for progress.
  void set_progress(std::function<void(int64_t bytes)> progress);

 private:
  struct Impl;
  explicit CsvImporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads a date-time written in a pattern of ImportOptions::time_format ("%m/%d/%Y %H:%M"), as
// milliseconds since the epoch of that wall-clock time taken as UTC; nullopt if it does not match
// or a part is out of range (month 13, 31 April, year outside 1900..9999).
std::optional<int64_t> ParseLocalTime(std::string_view text, std::string_view pattern);

}  // namespace recsys
