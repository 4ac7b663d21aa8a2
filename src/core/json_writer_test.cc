#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

namespace recsys {
namespace {

TEST(JsonWriterTest, NestedContainersAndEscaping) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a");
  w.Int(1);
  w.Key("list");
  w.BeginArray();
  w.String("x\"y\\z\n\x01");
  w.Double(0.5);
  w.Bool(true);
  w.Null();
  w.BeginObject();
  w.EndObject();
  w.EndArray();
  w.Key("nan");
  w.Double(std::numeric_limits<double>::quiet_NaN());
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"list":["x\"y\\z\n\u0001",0.5,true,null,{}],"nan":null})");
}

}  // namespace
}  // namespace recsys
