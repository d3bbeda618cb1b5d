#include <doctest/doctest.h>

#include <set>

#include "core/engine/block_pool.hpp"

using mmrt::engine::BlockHash;
using mmrt::engine::BlockPool;

TEST_CASE("blocks are handed out once until released") {
  BlockPool pool(3);
  std::set<int32_t> got;
  for (int i = 0; i < 3; ++i) got.insert(*pool.allocate());
  CHECK(got.size() == 3);
  CHECK_FALSE(pool.allocate().has_value());
  CHECK(pool.n_held() == 3);
  pool.release(*got.begin());
  CHECK(pool.n_available() == 1);
  CHECK(pool.allocate().has_value());
}

TEST_CASE("a published block survives release and is found by its hash") {
  BlockPool pool(2);
  const int32_t b = *pool.allocate();
  const BlockHash h{1, 2};
  pool.publish(b, h);
  pool.release(b);
  CHECK(pool.n_held() == 0);
  CHECK(pool.n_available() == 2);
  auto again = pool.take_cached(h);
  REQUIRE(again.has_value());
  CHECK(*again == b);
  CHECK(pool.n_held() == 1);
  CHECK_FALSE(pool.take_cached(BlockHash{9, 9}).has_value());
}

TEST_CASE("a shared cached block is held until its last holder releases it") {
  BlockPool pool(2);
  const int32_t b = *pool.allocate();
  pool.publish(b, BlockHash{7, 7});
  CHECK(*pool.take_cached(BlockHash{7, 7}) == b);
  pool.release(b);
  CHECK(pool.n_held() == 1);
  pool.release(b);
  CHECK(pool.n_held() == 0);
  CHECK_THROWS(pool.release(b));
}

TEST_CASE("cached blocks are evicted oldest first when nothing is free") {
  BlockPool pool(2);
  const int32_t a = *pool.allocate();
  const int32_t b = *pool.allocate();
  pool.publish(a, BlockHash{1, 0});
  pool.publish(b, BlockHash{2, 0});
  pool.release(a);
  pool.release(b);
  const int32_t c = *pool.allocate();
  CHECK(c == a);
  CHECK_FALSE(pool.take_cached(BlockHash{1, 0}).has_value());
  CHECK(pool.take_cached(BlockHash{2, 0}).has_value());
}
