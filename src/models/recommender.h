// Recommender: the one interface every model implements (DESIGN.md §5): fit on a sparse user x
// item matrix, top-k for a batch of users with exclusions and filters, similar items for a batch
// of items, save and load. A factory builds a model from a spec string such as
// "als:factors=64,iterations=15,regularization=0.01,alpha=1".
//
// Thread safety: Fit, Load are not thread-safe; Recommend and SimilarItems are const and may be
// called from several threads at once (they may use OpenMP inside).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "models/sparse.h"

namespace recsys {

struct ItemScore {
  int32_t item;
  float score;
};

// What a model may know about the items beyond the interactions (gold item_content and
// hybrid_features, see LoadItemSideData in models/data.h). Every per-item vector is indexed by
// the column of the fitted matrix and is either empty (unknown for all items) or has one entry
// per column. Models that need it say so in their Fit; the others ignore it.
struct ItemSideData {
  // Per item, (term, weight) pairs, e.g. the TF-IDF terms of gold item_content.
  std::vector<std::vector<std::pair<std::string, float>>> terms;
  // Per item, an index into category_names (its top category), -1 when unknown.
  std::vector<int32_t> category;
  std::vector<std::string> category_names;
  // Per item, 0 when out of stock or discontinued, 1 otherwise (also when the stock is unknown).
  std::vector<uint8_t> available;
  // Per item, creation time in ms since the epoch, 0 when unknown.
  std::vector<int64_t> created_ms;
  // Per non-zero of the fitted matrix, in CSR order, the interaction time in ms since the epoch
  // (0 when unknown); empty when no times are known. See EntryTimesInCsrOrder (models/data.h).
  std::vector<int64_t> entry_time_ms;
  // The reference time for ages and recency (ms since the epoch); 0 = the latest time known.
  int64_t now_ms = 0;
};

struct FitOptions {
  int threads = 0;     // OpenMP threads; 0 = all cores
  uint64_t seed = 42;  // every random choice of a fit derives from it
  bool verbose = false;
  // Item side data for the models that use it (content, hybrid, popularity's trending and
  // category modes); not owned, must outlive Fit only. Default: none.
  const ItemSideData* side = nullptr;
};

struct RecommendOptions {
  // Leave out the items in the user's row of the history matrix (training items).
  bool exclude_history = true;
  // If set, only items for which it returns true are recommended.
  std::function<bool(int32_t item)> item_filter;
  // Score every user from its row of history alone, even a user the model was fitted on
  // (matrix factorisation solves the user's vector against the item factors: "fold-in"). For
  // serving, where history holds rows built per request whose indices are not fitted users.
  bool fold_in = false;
  // hybrid only: the components' blend weights for this call, one per component; empty = the
  // fitted weights. Ignored by other models.
  std::vector<double> blend_weights;
};

// What matrix factorisation models (als, bpr) expose for serving: scores are dot products of a
// user vector and the item vectors, so candidates can come from an approximate
// nearest-neighbour index over the item vectors.
class FactorModel {
 public:
  virtual ~FactorModel() = default;
  // Length of every vector (may include zero padding or a bias term).
  virtual int dims() const = 0;
  virtual int32_t item_count() const = 0;
  // Item i's vector, dims() floats. REQUIRES: 0 <= item < item_count().
  virtual const float* ItemVector(int32_t item) const = 0;
  // Writes dims() floats into out: when items is empty, the learned vector of fitted user
  // `fitted_user` (false when it is not a fitted user); otherwise the vector solved from that
  // history (items, sorted ascending, with their interaction weights), whatever fitted_user is.
  virtual bool UserVector(int32_t fitted_user, std::span<const int32_t> items,
                          std::span<const float> weights, float* out) const = 0;
};

class Recommender {
 public:
  virtual ~Recommender() = default;
  // "als", "bpr", "itemknn", "ease", "popularity".
  virtual std::string name() const = 0;
  // The full spec with every parameter, e.g. "als:factors=64,iterations=15,...", such that
  // CreateRecommender(spec()) builds an identical unfitted model.
  virtual std::string spec() const = 0;

  // Learns from user_items (rows users, columns items, values interaction weights > 0).
  virtual Status Fit(const CsrMatrix& user_items, const FitOptions& options) = 0;

  // For each user (a row index of `history`), the top k items by score, best first, ties broken
  // by lower item index. history: the users' known interactions, the same shape as the
  // matrix the model was fitted on (models that score from the history itself, like item-kNN
  // and EASE, read it; matrix factorisation uses its learned user factors for users it was
  // fitted on). Fewer than k items come back when fewer are eligible. REQUIRES: fitted.
  virtual Status Recommend(std::span<const int32_t> users, const CsrMatrix& history, int k,
                           const RecommendOptions& options,
                           std::vector<std::vector<ItemScore>>* out) const = 0;

  // For each item, the k most similar other items, best first.
  virtual Status SimilarItems(std::span<const int32_t> items, int k,
                              std::vector<std::vector<ItemScore>>* out) const = 0;

  // Writes the fitted model into dir (created if needed) in the documented format
  // (docs/formats/model-artifacts.md); Load reads it back into a model made from the same spec.
  virtual Status Save(const std::string& dir) const = 0;
  virtual Status Load(const std::string& dir) = 0;

  // Non-null for matrix factorisation models once fitted or loaded; owned by the model.
  virtual const FactorModel* factors() const { return nullptr; }
};

// "name:key=value,key=value". Unknown names and keys, and bad values, are InvalidArgument
// naming them.
Result<std::unique_ptr<Recommender>> CreateRecommender(std::string_view spec);
// Names the factory knows, sorted.
std::vector<std::string> RecommenderNames();

// Parsed "name:k=v,...". Exposed for models and tests.
struct ModelSpec {
  std::string name;
  std::map<std::string, std::string> params;
  // Typed access; returns the default when absent, an error naming the key when malformed or
  // out of [min, max].
  Result<double> Double(const std::string& key, double def, double min, double max) const;
  Result<int64_t> Int(const std::string& key, int64_t def, int64_t min, int64_t max) const;
  Result<std::string> String(const std::string& key, const std::string& def,
                             std::initializer_list<std::string_view> choices) const;
  // Any text, e.g. hybrid's "als+itemknn"; the default when absent.
  Result<std::string> Text(const std::string& key, const std::string& def) const;
  // Every key must have been read through the accessors above; otherwise InvalidArgument.
  Status CheckAllUsed() const;

 private:
  mutable std::map<std::string, bool> used_;
};
Result<ModelSpec> ParseModelSpec(std::string_view spec);
// Shortest text that parses back to the same double: how spec() strings print real values.
std::string FormatSpecDouble(double v);

// Helpers every model uses: top-k of a dense score vector honouring exclusions and filter.
// scores[i] for every item; excluded items (sorted ascending, e.g. a CSR row) are skipped. Results
// best first, ties by lower index.
void TopK(std::span<const float> scores, int k, std::span<const int32_t> excluded,
          const std::function<bool(int32_t)>& filter, std::vector<ItemScore>* out);

// The arguments check of Recommend for a model of `items` items that scores users from their
// rows of history: InvalidArgument, prefixed "model: ", unless history has `items` columns and
// every user is a row of it.
Status CheckRecommendInput(std::string_view model, std::span<const int32_t> users,
                           const CsrMatrix& history, int64_t items);

}  // namespace recsys
