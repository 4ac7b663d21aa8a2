// Bronze -> silver (DESIGN.md §1, docs/formats/lake-tables.md): parse, validate, quarantine,
// deduplicate, type and sessionize; Parquet partitioned by event_date.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "lake/object_store.h"

namespace recsys {

// Where the lake is: the store (listing and reading bronze) and, for DuckDB, the same lake as a
// local folder path (the root of the local store).
struct LakeLocation {
  ObjectStore* store = nullptr;
  std::string root;  // absolute local path of the lake root
};

struct SilverOptions {
  int session_gap_minutes = 30;          // inactivity that ends a session
  std::string pii_salt = "recsys";       // salt of the email hash
  int64_t max_future_skew_ms = 3600000;  // event_time at most this far after the run's now
  size_t max_message_bytes = 65536;      // larger messages are quarantined as oversized
  // Threads parsing bronze, DuckDB threads, and Parquet writers working at once; 0 = all cores.
  int threads = 0;
  std::string memory_limit;  // DuckDB memory limit (per DuckDB the run opens); empty = default
  Clock* clock = nullptr;    // "now" for future_time checks; default system clock
  // Empty = generated (docs/formats/lake-tables.md); else 1 to 64 letters, digits and '-', not
  // the id of a committed run.
  std::string run_id;
  // Tests only: write everything but the manifest and fail, leaving the files as a crash would.
  bool testing_stop_before_manifest = false;
};

struct SilverCounts {
  int64_t read = 0, written = 0, quarantined = 0, duplicates = 0;
};

struct SilverReport {
  std::string run_id;
  int64_t files = 0;  // bronze files processed in this run
  SilverCounts total;
  std::map<std::string, SilverCounts> per_topic;
  std::map<std::string, int64_t> quarantined_by_reason;  // reason code -> count
  std::map<std::string, int64_t> table_rows;             // silver table -> rows written now
  int64_t orphan_files_removed = 0;  // files of crashed runs and superseded rebuilds removed
  double seconds = 0;
  // The report as written to silver/_reports/<run>.json.
  std::string ToJson() const;
};

// Processes every bronze file not yet listed in silver/_manifest, writes the incremental silver
// tables, rebuilds the derived ones, writes quarantine, report and, last, the manifest that
// commits the run. First removes what runs without a manifest left (a crash: their files are
// not counted, their bronze is processed again). A run with no new bronze files changes nothing
// and reports zeros. Fails, removing what it wrote, if read != written + quarantined +
// duplicates (Internal), if a bronze file cannot be read or decompressed (naming it), or on an
// I/O or DuckDB error. Bad records never fail a run: they are quarantined.
//
// Scratch space: the run spools its accepted records as CSV under $TMPDIR (default /tmp), about
// 200 bytes each, removed at the end. REQUIRES: one silver run at a time per lake (a second
// would take the first one's files for a crash's).
Status RunSilver(const LakeLocation& lake, const SilverOptions& options, SilverReport* report);

}  // namespace recsys
