#include "generate/generator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/files.h"

namespace recsys {
namespace {

constexpr int64_t kDayMs = 86400000;

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  std::vector<std::vector<std::string>> rows;
  if (!text.ok()) return rows;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) rows.push_back(SplitCsvLine(line));
  return rows;
}

// FNV-1a over everything a consumer of the records sees.
struct Hasher {
  uint64_t h = 1469598103934665603ULL;
  void Add(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xFF;
    h *= 1099511628211ULL;
  }
};

uint64_t HashRun(const GeneratorOptions& options, int64_t* records) {
  Generator generator(options);
  Hasher hasher;
  *records = 0;
  Status st = generator.Run([&](const GeneratedRecord& r) {
    hasher.Add(TopicName(r.topic));
    hasher.Add(r.key);
    hasher.Add(r.json);
    hasher.Add(std::to_string(r.time_ms));
    ++*records;
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return hasher.h;
}

GeneratorOptions SmallOptions(uint64_t seed) {
  GeneratorOptions o;
  o.users = 300;
  o.products = 120;
  o.days = 4;
  o.seed = seed;
  o.bad_rate = 0.05;
  return o;
}

TEST(GeneratorTest, SameSeedGivesTheSameBytesAndAnotherSeedDoesNot) {
  int64_t n1 = 0, n2 = 0, n3 = 0;
  const uint64_t a = HashRun(SmallOptions(11), &n1);
  const uint64_t b = HashRun(SmallOptions(11), &n2);
  const uint64_t c = HashRun(SmallOptions(12), &n3);
  EXPECT_GT(n1, 1000);
  EXPECT_EQ(n1, n2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(GeneratorTest, BadRecordsAreAddedWithoutChangingTheGoodOnes) {
  auto good_hash = [](double bad_rate, int64_t* good, int64_t* bad) {
    GeneratorOptions o = SmallOptions(21);
    o.bad_rate = bad_rate;
    Generator generator(o);
    Hasher hasher;
    EXPECT_TRUE(generator
                    .Run([&](const GeneratedRecord& r) {
                      if (r.bad) {
                        ++*bad;
                      } else {
                        ++*good;
                        hasher.Add(r.json);
                      }
                      return Status::OK();
                    })
                    .ok());
    return hasher.h;
  };
  int64_t good_clean = 0, bad_clean = 0, good_dirty = 0, bad_dirty = 0;
  const uint64_t clean = good_hash(0, &good_clean, &bad_clean);
  const uint64_t dirty = good_hash(0.2, &good_dirty, &bad_dirty);
  EXPECT_EQ(bad_clean, 0);
  EXPECT_GT(bad_dirty, good_dirty / 5);
  EXPECT_EQ(good_clean, good_dirty);
  EXPECT_EQ(clean, dirty);
}

TEST(GeneratorTest, RejectsUnusableOptions) {
  GeneratorOptions o = SmallOptions(1);
  o.bad_rate = 0.9;
  Status st = Generator(o).Run([](const GeneratedRecord&) { return Status::OK(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("bad_rate"), std::string::npos) << st.message();

  o = SmallOptions(1);
  o.days = 0;
  st = Generator(o).Run([](const GeneratedRecord&) { return Status::OK(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("days"), std::string::npos) << st.message();

  o = SmallOptions(1);
  o.products = 0;
  st = Generator(o).Run([](const GeneratedRecord&) { return Status::OK(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(GeneratorTest, StopsAtTheFirstEmitErrorAndReturnsIt) {
  Generator generator(SmallOptions(3));
  int calls = 0;
  Status st = generator.Run([&](const GeneratedRecord&) {
    if (++calls == 10) return Status::IOError("disk full");
    return Status::OK();
  });
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(st.message(), "disk full");
  EXPECT_EQ(calls, 10);
}

TEST(GeneratorTest, GroundTruthNeedsARun) {
  Generator generator(SmallOptions(3));
  EXPECT_FALSE(generator.WriteGroundTruth("/tmp/recsys_generate_never_written").ok());
  EXPECT_FALSE(FileExists("/tmp/recsys_generate_never_written"));
}

TEST(GeneratorTest, NoBadRecordsWhenBadRateIsZero) {
  GeneratorOptions o = SmallOptions(5);
  o.bad_rate = 0;
  Generator generator(o);
  int64_t bad = 0;
  ASSERT_TRUE(generator
                  .Run([&](const GeneratedRecord& r) {
                    if (r.bad || r.event == nullptr) ++bad;
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(generator.stats().bad, 0);
  EXPECT_GT(generator.stats().records, 1000);
}

// One medium run, parsed and validated record by record, shared by the behaviour tests.
class GeneratedShopTest : public testing::Test {
 protected:
  static constexpr int kDepts = 10;

  struct Observed {
    int64_t records = 0, bad = 0, good = 0;
    int64_t out_of_order = 0;
    int64_t good_rejected = 0;
    std::string first_good_rejection;
    int64_t good_mismatched = 0;  // topic, key, time or id differ from the event
    int64_t good_duplicate_ids = 0;
    int64_t bad_accepted = 0;  // parsed fine and not a duplicate
    std::string first_bad_accepted;
    int64_t bad_duplicates = 0;
    std::set<RejectReason> reasons;
    std::set<std::string> sessions, converting_sessions;
    int64_t guest_events = 0, guest_signups = 0;
    int64_t before_signup = 0;  // registered-user events before that user's signup
    int64_t purchases = 0, purchase_price_mismatches = 0;
    std::unordered_map<std::string, int> product_dept;
    std::unordered_map<std::string, int64_t> product_views;
    std::unordered_map<std::string, std::array<int64_t, kDepts>> user_dept_views;
    std::vector<std::string> created_products;
  };

  static void SetUpTestSuite() {
    dir_ = "/tmp/recsys_generate_test_" + std::to_string(::getpid());
    options_.users = 1500;
    options_.products = 400;
    options_.days = 14;
    options_.seed = 2024;
    options_.bad_rate = 0.05;
    generator_ = new Generator(options_);
    observed_ = new Observed();
    Observed& o = *observed_;

    std::vector<std::string> dept_names = {"Electronics",  "Home & Kitchen", "Fashion", "Beauty",
                                           "Sports",       "Books",          "Toys",    "Grocery",
                                           "Pet Supplies", "Garden & Tools"};
    EventParser parser;
    Event parsed;
    ValidationOptions validation;
    validation.now_ms = options_.start_ms + options_.days * kDayMs;
    std::unordered_set<std::string> ids;
    std::unordered_map<std::string, int64_t> signup_time;
    std::unordered_map<std::string, double> price;
    int64_t last_time = 0;

    status_ = new Status(generator_->Run([&](const GeneratedRecord& r) {
      ++o.records;
      if (r.time_ms < last_time) ++o.out_of_order;
      last_time = r.time_ms;
      std::optional<Rejection> rejection = parser.Parse(r.json, validation, &parsed);
      if (r.bad) {
        ++o.bad;
        if (r.event != nullptr) ++o.good_mismatched;
        if (rejection) {
          o.reasons.insert(rejection->reason);
        } else if (ids.count(parsed.event_id)) {
          ++o.bad_duplicates;
        } else {
          ++o.bad_accepted;
          if (o.first_bad_accepted.empty()) o.first_bad_accepted = std::string(r.json);
        }
        return Status::OK();
      }
      ++o.good;
      if (rejection) {
        ++o.good_rejected;
        if (o.first_good_rejection.empty()) o.first_good_rejection = rejection->message;
        return Status::OK();
      }
      if (r.event == nullptr || parsed.topic() != r.topic || parsed.key() != r.key ||
          parsed.event_time_ms != r.time_ms || parsed.event_id != r.event->event_id) {
        ++o.good_mismatched;
      }
      if (!ids.insert(parsed.event_id).second) ++o.good_duplicate_ids;

      const Event& e = parsed;
      switch (e.type) {
        case EventType::kProductCreated: {
          o.created_products.push_back(e.product_id);
          const std::string& category = *e.product.category;
          const std::string top = category.substr(0, category.find(" > "));
          auto it = std::find(dept_names.begin(), dept_names.end(), top);
          o.product_dept[e.product_id] = static_cast<int>(it - dept_names.begin());
          price[e.product_id] = *e.product.price;
          break;
        }
        case EventType::kPriceChanged:
          price[e.product_id] = *e.product.price;
          break;
        case EventType::kSignup:
          if (e.user_id[0] == 'g') ++o.guest_signups;
          signup_time[e.user_id] = e.event_time_ms;
          break;
        default:
          break;
      }
      if (e.topic() == Topic::kClickstream) {
        const bool guest = e.user_id[0] == 'g';
        if (guest) {
          ++o.guest_events;
        } else {
          auto it = signup_time.find(e.user_id);
          if (it == signup_time.end() || it->second > e.event_time_ms) ++o.before_signup;
        }
        o.sessions.insert(e.session_id);
        if (e.type == EventType::kPurchase) {
          ++o.purchases;
          o.converting_sessions.insert(e.session_id);
          if (!e.price || *e.price != price[e.product_id] || e.currency != "EUR") {
            ++o.purchase_price_mismatches;
          }
        }
        if (e.type == EventType::kProductView) {
          ++o.product_views[e.product_id];
          if (!guest) {
            auto& counts = o.user_dept_views[e.user_id];
            auto d = o.product_dept.find(e.product_id);
            if (d != o.product_dept.end() && d->second < kDepts) ++counts[d->second];
          }
        }
      }
      return Status::OK();
    }));
    ground_truth_status_ = new Status(generator_->WriteGroundTruth(dir_));
  }

  static void TearDownTestSuite() {
    EXPECT_TRUE(RemoveAll(dir_).ok());
    delete generator_;
    delete observed_;
    delete status_;
    delete ground_truth_status_;
  }

  void SetUp() override {
    ASSERT_TRUE(status_->ok()) << status_->ToString();
    ASSERT_TRUE(ground_truth_status_->ok()) << ground_truth_status_->ToString();
  }

  static std::string GroundTruth(const std::string& name) {
    return JoinPath(JoinPath(dir_, "ground_truth"), name);
  }

  static inline std::string dir_;
  static inline GeneratorOptions options_;
  static inline Generator* generator_ = nullptr;
  static inline Observed* observed_ = nullptr;
  static inline Status* status_ = nullptr;
  static inline Status* ground_truth_status_ = nullptr;
};

TEST_F(GeneratedShopTest, RecordsComeInTimeOrder) {
  EXPECT_GT(observed_->records, 50000);
  EXPECT_EQ(observed_->out_of_order, 0);
}

TEST_F(GeneratedShopTest, EveryGoodRecordValidatesAndMatchesItsTopicKeyAndTime) {
  const Observed& o = *observed_;
  EXPECT_EQ(o.good_rejected, 0) << o.first_good_rejection;
  EXPECT_EQ(o.good_mismatched, 0);
  EXPECT_EQ(o.good_duplicate_ids, 0);
}

TEST_F(GeneratedShopTest, StatsAgreeWithWhatWasEmitted) {
  const Observed& o = *observed_;
  const GeneratorStats& s = generator_->stats();
  EXPECT_EQ(s.records, o.records);
  EXPECT_EQ(s.bad, o.bad);
  EXPECT_EQ(s.per_topic[0] + s.per_topic[1] + s.per_topic[2], s.records);
  EXPECT_GT(s.per_topic[1], 0);
  EXPECT_GT(s.per_topic[2], 0);
  EXPECT_EQ(s.sessions, static_cast<int64_t>(o.sessions.size()));
  EXPECT_EQ(s.converting_sessions, static_cast<int64_t>(o.converting_sessions.size()));
  EXPECT_EQ(s.purchases, o.purchases);
}

TEST_F(GeneratedShopTest, BadRecordsCoverEveryRejectReasonAtTheRequestedShare) {
  const Observed& o = *observed_;
  const double share = static_cast<double>(o.bad) / static_cast<double>(o.records);
  EXPECT_GT(share, 0.045);
  EXPECT_LT(share, 0.055);
  // Every bad record is caught: by the parser, or as a re-sent event_id.
  EXPECT_EQ(o.bad_accepted, 0) << o.first_bad_accepted;
  EXPECT_GT(o.bad_duplicates, 0);
  std::set<RejectReason> expected;
  for (int i = 0; i < kRejectReasonCount; ++i) {
    const auto reason = static_cast<RejectReason>(i);
    if (reason != RejectReason::kWrongTopic && reason != RejectReason::kDuplicate) {
      expected.insert(reason);
    }
  }
  EXPECT_EQ(o.reasons, expected);
}

TEST_F(GeneratedShopTest, AFewPercentOfSessionsConvert) {
  const Observed& o = *observed_;
  const double rate =
      static_cast<double>(o.converting_sessions.size()) / static_cast<double>(o.sessions.size());
  EXPECT_GT(rate, 0.02);
  EXPECT_LT(rate, 0.05);
}

TEST_F(GeneratedShopTest, PurchasesPayTheCurrentPrice) {
  EXPECT_GT(observed_->purchases, 50);
  EXPECT_EQ(observed_->purchase_price_mismatches, 0);
}

TEST_F(GeneratedShopTest, GuestsBrowseButRegisteredUsersActOnlyAfterSignup) {
  const Observed& o = *observed_;
  const int64_t clickstream = generator_->stats().per_topic[0];
  EXPECT_GT(o.guest_events, clickstream / 10);
  EXPECT_LT(o.guest_events, clickstream / 2);
  EXPECT_EQ(o.guest_signups, 0);
  EXPECT_EQ(o.before_signup, 0);
}

TEST_F(GeneratedShopTest, ViewsFollowTheHiddenTastes) {
  const Observed& o = *observed_;
  std::array<double, kDepts> catalog_share{};
  for (const auto& [id, dept] : o.product_dept) catalog_share[dept] += 1.0 / o.product_dept.size();

  auto rows = ReadCsv(GroundTruth("user_tastes.csv"));
  ASSERT_GT(rows.size(), 1u);
  ASSERT_EQ(rows[0].size(), static_cast<size_t>(kDepts + 1));
  EXPECT_EQ(rows[0][1], "Electronics");
  int users = 0, above = 0;
  double view_share_sum = 0, catalog_share_sum = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    auto it = o.user_dept_views.find(rows[i][0]);
    if (it == o.user_dept_views.end()) continue;
    int64_t total = 0;
    for (int64_t c : it->second) total += c;
    if (total < 20) continue;
    int top = 0;
    for (int d = 1; d < kDepts; ++d) {
      if (std::stod(rows[i][d + 1]) > std::stod(rows[i][top + 1])) top = d;
    }
    const double share = static_cast<double>(it->second[top]) / static_cast<double>(total);
    ++users;
    view_share_sum += share;
    catalog_share_sum += catalog_share[top];
    if (share > 2 * catalog_share[top]) ++above;
  }
  ASSERT_GT(users, 200);
  EXPECT_GT(view_share_sum / users, 3 * catalog_share_sum / users);
  EXPECT_GT(above, users * 9 / 10);
}

TEST_F(GeneratedShopTest, PopularityIsSkewed) {
  std::vector<int64_t> views;
  int64_t total = 0;
  for (const auto& [id, n] : observed_->product_views) {
    views.push_back(n);
    total += n;
  }
  std::sort(views.rbegin(), views.rend());
  const size_t top = observed_->created_products.size() / 10;
  int64_t top_views = 0;
  for (size_t i = 0; i < top && i < views.size(); ++i) top_views += views[i];
  EXPECT_GT(static_cast<double>(top_views) / static_cast<double>(total), 0.3);
}

TEST_F(GeneratedShopTest, GroundTruthHasARowPerUserAndProduct) {
  auto tastes = ReadCsv(GroundTruth("user_tastes.csv"));
  ASSERT_EQ(tastes.size(), static_cast<size_t>(options_.users + 1));
  EXPECT_EQ(tastes[0][0], "user_id");
  EXPECT_EQ(tastes[1][0], "u000001");
  double sum = 0;
  for (size_t d = 1; d < tastes[1].size(); ++d) sum += std::stod(tastes[1][d]);
  EXPECT_NEAR(sum, 1.0, 0.01);

  auto users = ReadCsv(GroundTruth("users.csv"));
  ASSERT_EQ(users.size(), static_cast<size_t>(options_.users + 1));
  EXPECT_EQ(users[0][0], "user_id");

  auto brands = ReadCsv(GroundTruth("user_brands.csv"));
  ASSERT_GE(brands.size(), static_cast<size_t>(options_.users + 1));
  EXPECT_EQ(brands[0], (std::vector<std::string>{"user_id", "brand", "weight"}));

  auto products = ReadCsv(GroundTruth("products.csv"));
  ASSERT_EQ(products.size(), observed_->created_products.size() + 1);
  EXPECT_EQ(products[0], (std::vector<std::string>{"product_id", "category", "brand", "price",
                                                   "quality", "popularity"}));
  std::set<std::string> listed;
  for (size_t i = 1; i < products.size(); ++i) listed.insert(products[i][0]);
  EXPECT_EQ(listed, std::set<std::string>(observed_->created_products.begin(),
                                          observed_->created_products.end()));
  EXPECT_TRUE(FileExists(GroundTruth("README.md")));
}

}  // namespace
}  // namespace recsys
