// The phrases error messages share: ordinals, "the Nth update (step k)",
// replica lists with verb agreement, dtypes with their article.

#include "runtime/core/wording.hpp"

#include "runtime/core/tensor_math.hpp"

#include <doctest/doctest.h>

using namespace varsync;

TEST_CASE("ordinals follow English, including the teens") {
  CHECK(wording::ordinal(1) == "1st");
  CHECK(wording::ordinal(2) == "2nd");
  CHECK(wording::ordinal(3) == "3rd");
  CHECK(wording::ordinal(4) == "4th");
  CHECK(wording::ordinal(11) == "11th");
  CHECK(wording::ordinal(12) == "12th");
  CHECK(wording::ordinal(13) == "13th");
  CHECK(wording::ordinal(21) == "21st");
  CHECK(wording::ordinal(102) == "102nd");
  CHECK(wording::ordinal(111) == "111th");
}

TEST_CASE("a step is named as the update a user counts") {
  CHECK(wording::nth_update(0) == "the 1st update (step 0)");
  CHECK(wording::nth_update(5) == "the 6th update (step 5)");
}

TEST_CASE("one replica is singular, several are plural") {
  std::vector<std::size_t> one{0};
  std::vector<std::size_t> two{1, 3};
  CHECK(wording::replicas(one) + " " + wording::agree(one, "has", "have") ==
        "replica 0 has");
  CHECK(wording::replicas(two) + " " + wording::agree(two, "has", "have") ==
        "replicas 1, 3 have");
  CHECK(wording::replicas({}) == "no replica");
}

TEST_CASE("dtypes take the article of their spoken first letter") {
  CHECK(wording::with_article(dtype::f32) == "an f32");
  CHECK(wording::with_article(dtype::f64) == "an f64");
  CHECK(wording::with_article(dtype::i64) == "an i64");
}

TEST_CASE("a dtype mismatch reads \"got an f32 tensor\"") {
  auto checked =
      check_operand(*tensor::filled(dtype::f32, {}, 1.0), dtype::f64, {}, "w");
  REQUIRE(!checked);
  CHECK(checked.error().message() ==
        "variable 'w' has dtype f64, got an f32 tensor");
}
