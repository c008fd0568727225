// The value-tree walk every walker in trace/ shares: leaves and paths, rebuilding, the one depth
// rule (MAX_TREE_DEPTH, also the cap of a request's maxDepth) and cycles, and the walkers built
// on it (Refs in JSON, batch narrowing of object literals, recording arguments).

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { resolveLimits } from "../../trace/_decode.ts";
import { BatchRows } from "../../trace/_rows.ts";
import {
  foldTree,
  forEachLeaf,
  isBranch,
  mapLeaves,
  MAX_TREE_DEPTH,
  someLeaf,
  type TreePath,
} from "../../trace/_tree.ts";
import { collectRefs, decodeValue, encodeValue, Ref } from "../../trace/_values.ts";
import { Graph } from "../../trace/graph.ts";
import { LanguageModel } from "../../trace/language_model.ts";

/** `[[...[leaf]...]]` with `levels` arrays around `leaf`. */
function nest(levels: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

Deno.test("tree: leaves in key order with their paths; class instances are leaves", () => {
  const t = tensor([1, 2]);
  const seen: [unknown, TreePath][] = [];
  forEachLeaf([1, { a: t, b: [null, "x"] }, new Ref(3)], (x, p) => void seen.push([x, [...p]]));
  assert.deepEqual(seen, [
    [1, [0]],
    [t, [1, "a"]],
    [null, [1, "b", 0]],
    ["x", [1, "b", 1]],
    [new Ref(3), [2]],
  ]);
  const root: unknown[] = [];
  forEachLeaf(5, (x, p) => void root.push(x, p.length));
  assert.deepEqual(root, [5, 0]);
  assert.ok(isBranch([]) && isBranch({}) && isBranch(Object.create(null)));
  assert.ok(!isBranch(t) && !isBranch(new Ref(0)) && !isBranch(null) && !isBranch("s"));
});

Deno.test("tree: mapLeaves rebuilds branches, or keeps unchanged ones when asked", () => {
  const v = { a: [1, 2], b: { c: 3 }, d: "s" };
  const out = mapLeaves(v, (x) => (typeof x === "number" ? x * 10 : x));
  assert.deepEqual(out, { a: [10, 20], b: { c: 30 }, d: "s" });
  const same = mapLeaves(v, (x) => x);
  assert.deepEqual(same, v);
  assert.notEqual(same, v, "rebuilt by default");
  const kept = mapLeaves(v, (x) => (x === 3 ? 4 : x), { keepUnchanged: true }) as typeof v;
  assert.equal(kept.a, v.a, "an unchanged branch is kept");
  assert.notEqual(kept.b, v.b);
  assert.deepEqual(kept.b, { c: 4 });
  const tagged = mapLeaves({ x: { $t: 1 } }, (x) => (x as { $t: number }).$t ?? x, {
    leaf: (x) => !Array.isArray(x) && "$t" in (x as object),
  });
  assert.deepEqual(tagged, { x: 1 });
});

Deno.test("tree: someLeaf stops at the first match", () => {
  let calls = 0;
  const hit = someLeaf([1, [2, 3], 4], (x) => (calls++, x === 2));
  assert.equal(hit, true);
  assert.equal(calls, 2);
  assert.equal(someLeaf({ a: [1] }, (x) => x === 9), false);
});

Deno.test("tree: one depth rule and cycles are RangeErrors that say what to do", () => {
  forEachLeaf(nest(MAX_TREE_DEPTH), () => {});
  for (const walk of [forEachLeaf, mapLeaves, someLeaf]) {
    assert.throws(
      () => walk(nest(MAX_TREE_DEPTH + 1), () => false),
      (e) =>
        e instanceof RangeError &&
        /deeper than 64 levels \(at value\[0\]\[0\].*\): flatten it/.test(e.message),
    );
  }
  const loop: unknown[] = [1];
  loop.push({ back: loop });
  assert.throws(
    () => mapLeaves(loop, (x) => x),
    /A value contains itself \(at value\[1\]\.back\): .*pass a copy without the cycle/,
  );
  // A value shared by two branches is not a cycle.
  const shared = [1];
  assert.deepEqual(mapLeaves([shared, { s: shared }], (x) => x), [[1], { s: [1] }]);
  // The walkers built on it: Refs in object literals, JSON of $-keyed objects.
  const refs: number[] = [];
  collectRefs([new Ref(2), { a: new Ref(5), b: [new Ref(7)] }], refs);
  assert.deepEqual(refs, [2, 5, 7]);
  const odd = { $ref: 1, inner: { $object: { $undefined: 2 } }, t: tensor([1.5]), u: undefined };
  const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(odd)))) as typeof odd;
  assert.deepEqual({ ...back, t: back.t.dataSync()[0] }, { ...odd, t: 1.5 });
  assert.throws(() => encodeValue(nest(MAX_TREE_DEPTH + 1)), /deeper than 64 levels/);
});

Deno.test("tree: a request's maxDepth is capped at MAX_TREE_DEPTH", () => {
  assert.equal(resolveLimits({ maxDepth: MAX_TREE_DEPTH }).maxDepth, MAX_TREE_DEPTH);
  assert.throws(
    () => resolveLimits({ maxDepth: MAX_TREE_DEPTH + 1 }),
    /Limit maxDepth is 65: it must be at most 64/,
  );
});

Deno.test("tree: an invoke's rows are narrowed inside object literals too", async () => {
  const batch = new BatchRows([{ start: 0, size: 1 }, { start: 1, size: 2 }], 3);
  const h = tensor([[1], [2], [3]]);
  const got = batch.narrow({ h, pair: [h, 7] }, 1) as { h: typeof h; pair: [typeof h, number] };
  assert.deepEqual(await got.h.toArray(), [[2], [3]]);
  assert.deepEqual(await got.pair[0].toArray(), [[2], [3]]);
  assert.equal(got.pair[1], 7);
});

Deno.test("tree: recording a too deep or cyclic argument fails when it is recorded", async () => {
  const model = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, { seed: 0 });
  const loop: unknown[] = [];
  loop.push(loop);
  await assert.rejects(
    model.trace("Hi", (t) => void t.log(loop)),
    /A value contains itself/,
  );
  await assert.rejects(
    model.trace("Hi", (t) => void t.log(nest(MAX_TREE_DEPTH + 1))),
    /deeper than 64 levels/,
  );
});

Deno.test("tree: foldTree folds bottom-up; node descriptions use it", () => {
  const size = foldTree([1, { a: [2, 3] }], {
    leaf: () => 1,
    array: (xs) => xs.reduce((a, b) => a + b, 0),
    object: (es) => es.reduce((a, [, b]) => a + b, 0),
  });
  assert.equal(size, 3);
  assert.throws(
    () => foldTree(nest(MAX_TREE_DEPTH + 1), { leaf: () => 0, array: () => 0, object: () => 0 }),
    RangeError,
  );
  const g = new Graph();
  const x = g.add("list", [], []);
  g.add("log", [[new Ref(x.id), { k: "s" }], { kind: "slice", start: 1, stop: null }], [x.id]);
  assert.equal(g.describe(1), 'log([list(), {k: "s"}], slice(1:))');
});
