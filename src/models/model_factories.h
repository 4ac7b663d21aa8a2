// One factory per model, used by CreateRecommender (recommender.cc). Each takes the parsed spec
// and returns InvalidArgument naming a bad or unknown parameter.
#pragma once

#include <memory>

#include "models/recommender.h"

namespace recsys {

Result<std::unique_ptr<Recommender>> MakeAls(const ModelSpec& spec);         // als.cc
Result<std::unique_ptr<Recommender>> MakeBpr(const ModelSpec& spec);         // bpr.cc
Result<std::unique_ptr<Recommender>> MakeItemKnn(const ModelSpec& spec);     // itemknn.cc
Result<std::unique_ptr<Recommender>> MakeEase(const ModelSpec& spec);        // ease.cc
Result<std::unique_ptr<Recommender>> MakePopularity(const ModelSpec& spec);  // popularity.cc
Result<std::unique_ptr<Recommender>> MakeContent(const ModelSpec& spec);     // content.cc
Result<std::unique_ptr<Recommender>> MakeHybrid(const ModelSpec& spec);      // hybrid.cc

}  // namespace recsys
