// Graph recording pieces without a model: step sets, provider keys, node descriptions, JSON
// encoding of literals (tensors, undefined, non-finite numbers) and rebuilding a graph.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { decodeValue, encodeValue, Graph, type GraphJSON, Ref } from "../../trace/graph.ts";
import { isMulti, parseSteps, stepsKey, stepsMatch } from "../../trace/steps.ts";
import { NodeQueue } from "../../trace/_queue.ts";
import { assertClose } from "../_assert.ts";

Deno.test("steps: specs parse to sets with keys and matching", () => {
  const cases: [Parameters<typeof parseSteps>[0], string, number[], boolean][] = [
    [3, "i3", [3], false],
    ["2:5", "i[2:5]", [2, 3, 4], true],
    ["1::2", "i[1::2]", [1, 3, 5], true],
    [":", "i*", [0, 1, 2, 3, 4, 5], true],
    ["4:5", "i[4:5]", [4], false],
    [[4, 0, 2, 2], "i[0,2,4]", [0, 2, 4], true],
    [[1], "i1", [1], false],
  ];
  for (const [spec, key, hits, multi] of cases) {
    const s = parseSteps(spec);
    assert.equal(stepsKey(s), key, JSON.stringify(spec));
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].filter((n) => stepsMatch(s, n)),
      hits,
      JSON.stringify(spec),
    );
    assert.equal(isMulti(s), multi, JSON.stringify(spec));
  }
  assert.throws(() => parseSteps("-3:"), /Invalid steps "-3:": negative steps are not supported/);
  assert.throws(() => parseSteps([]), /give at least one step/);
  assert.throws(() => parseSteps("1, 2"), /use one step, one slice/);
});

Deno.test("graph: describe names getters by provider key and ops by their call", () => {
  const g = new Graph();
  const h = g.add("getter", [], [], {
    getter: { path: "transformer.h.0", kind: "output", steps: { kind: "at", step: 2 } },
  });
  const e = g.add("getitem", [new Ref(h.id), 0], [h.id]);
  const s = g.add("set", [new Ref(e.id), ":", 0], [e.id]);
  const c = g.add("call", [new Ref(e.id), "add", tensor([1, 2])], [e.id]);
  const root = g.add("getter", [], [], {
    getter: { path: "", kind: "input", steps: { kind: "all" } },
  });
  assert.equal(g.describe(s.id), 'transformer.h.0.output.i2[0].set(":", 0)');
  assert.equal(g.describe(c.id), "transformer.h.0.output.i2[0].add(Tensor[2])");
  assert.equal(g.describe(root.id), "model.input.i*");
  assert.equal(root.multi, true);
  assert.equal(c.multi, false);
});

Deno.test("graph: JSON keeps tensors, refs, undefined and non-finite numbers", async () => {
  const value = [
    new Ref(3),
    tensor([[1.5, -2]]),
    undefined,
    NaN,
    -Infinity,
    { $odd: 1, k: "s" },
    null,
  ];
  const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value)))) as unknown[];
  assert.ok(back[0] instanceof Ref && back[0].id === 3);
  await assertClose(back[1] as never, [[1.5, -2]]);
  assert.equal(back[2], undefined);
  assert.ok(Number.isNaN(back[3]));
  assert.equal(back[4], -Infinity);
  assert.deepEqual(back.slice(5), [{ $odd: 1, k: "s" }, null]);
  assert.throws(() => encodeValue(() => 1), /A function cannot be serialised/);
});

Deno.test("graph: fromJSON rebuilds deps and refuses forward references", () => {
  const g = new Graph();
  const a = g.add("list", [], []);
  g.add("append", [new Ref(a.id), 5], [a.id]).saved = true;
  const back = Graph.fromJSON(JSON.parse(JSON.stringify(g.toJSON())));
  assert.deepEqual(back.nodes.map((n) => [n.op, n.deps, n.saved]), [["list", [], false], [
    "append",
    [0],
    true,
  ]]);
  const bad: GraphJSON = {
    format: "tsight-graph v1",
    nodes: [{ op: "append", args: [{ $ref: 1 }, 1] }],
  };
  assert.throws(
    () => Graph.fromJSON(bad),
    /Node %0 args is a reference to %1: allowed is none: node %0 has no earlier node/,
  );
  assert.throws(
    () => Graph.fromJSON({ format: "x", nodes: [] }),
    /Request graph.format is "x": allowed is "tsight-graph v1"/,
  );
});

Deno.test("queue: pops ids in ascending order, once per round", () => {
  const q = new NodeQueue(10);
  for (const id of [7, 3, 9, 3, 1, 7]) q.push(id);
  const out: number[] = [];
  while (q.size) out.push(q.pop());
  assert.deepEqual(out, [1, 3, 7, 9]);
  q.push(3);
  assert.equal(q.size, 0); // still this round
  q.nextRound();
  q.push(3);
  assert.equal(q.pop(), 3);
});
