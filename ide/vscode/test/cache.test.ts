import assert from "node:assert/strict";
import { test } from "node:test";
import { completionCacheKey, LruCache } from "../src/core/cache";

test("the least recently used entry is evicted, and a read counts as a use", () => {
  const cache = new LruCache<string, number>(2);
  cache.set("a", 1);
  cache.set("b", 2);
  assert.equal(cache.get("a"), 1); // a is now newer than b
  cache.set("c", 3);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("a"), 1);
  assert.equal(cache.get("c"), 3);
  assert.equal(cache.size, 2);
  assert.deepEqual(cache.newestFirst(), [3, 1]);
});

test("re-setting a key replaces its value without growing the cache", () => {
  const cache = new LruCache<string, number>(3);
  cache.set("a", 1);
  cache.set("a", 2);
  assert.equal(cache.size, 1);
  assert.equal(cache.get("a"), 2);
  assert.throws(() => new LruCache(0), RangeError);
});

test("cache keys separate every field, including where one ends and the next begins", () => {
  const base = { prefix: "ab", suffix: "c", language: "python", mode: "line", maxTokens: 64, model: "default" };
  const key = completionCacheKey(base);
  assert.equal(completionCacheKey({ ...base }), key);
  const variants = [
    { ...base, prefix: "a", suffix: "bc" },
    { ...base, language: "ruby" },
    { ...base, mode: "block" },
    { ...base, maxTokens: 65 },
    { ...base, model: "other" },
  ];
  const keys = new Set([key, ...variants.map(completionCacheKey)]);
  assert.equal(keys.size, variants.length + 1);
});
