// The index grammar: parsing, NumPy/Python slice resolution (checked against Python's own
// slice.indices algorithm written out here), get() on every device, and every error path.

import assert from "node:assert/strict";
import { cat, parseIndex, resolveSlice, slice, tensor } from "../../engine/mod.ts";
import type { Device, Tensor } from "../../engine/mod.ts";
import { assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

/** Python's PySlice_AdjustIndices: the indices a slice selects from a sequence of `size`. */
function pySlice(start: number | undefined, stop: number | undefined, step = 1, size: number) {
  const [lo, hi] = step > 0 ? [0, size] : [-1, size - 1];
  const adjust = (v: number | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    if (v < 0) return Math.max(v + size, lo);
    return Math.min(v, hi);
  };
  const s = adjust(start, step > 0 ? lo : hi), e = adjust(stop, step > 0 ? hi : lo);
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

const BOUNDS = [undefined, -9, -6, -5, -4, -1, 0, 1, 3, 4, 5, 6, 9];
const STEPS = [undefined, 1, 2, 3, -1, -2, -4];

Deno.test("resolveSlice agrees with Python on every bound and step for sizes 0, 1 and 5", () => {
  for (const size of [0, 1, 5]) {
    for (const a of BOUNDS) {
      for (const b of BOUNDS) {
        for (const c of STEPS) {
          const want = pySlice(a, b, c, size);
          const r = resolveSlice(slice(a, b, c), size);
          const got = Array.from({ length: r.length }, (_, i) => r.start + i * r.step);
          assert.deepEqual(got, want, `slice(${a}, ${b}, ${c}) of ${size}`);
        }
      }
    }
  }
});

deviceTest("get: every slice string on a length-5 axis matches Python", async (device) => {
  const t = tensor([10, 11, 12, 13, 14], undefined, { device });
  const show = (v: number | undefined) => (v === undefined ? "" : String(v));
  const views: Tensor[] = [], wants: number[][] = [];
  for (const a of BOUNDS) {
    for (const b of BOUNDS) {
      for (const c of STEPS) {
        const spec = `${show(a)}:${show(b)}${c === undefined ? "" : `:${c}`}`;
        const want = pySlice(a, b, c, 5).map((i) => 10 + i);
        const got = t.get(spec);
        assert.deepEqual(got.shape, [want.length], spec);
        views.push(got);
        wants.push(want);
      }
    }
  }
  // One read for all of them (each readback is a sync on a GPU).
  await assertExact(cat(views), wants.flat());
});

Deno.test("parseIndex: the grammar's items", () => {
  assert.deepEqual(parseIndex("0, :, -1"), [0, slice(), -1]);
  assert.deepEqual(parseIndex(" 1:5:2 ,..., null, None, +2"), [
    slice(1, 5, 2),
    "...",
    null,
    null,
    2,
  ]);
  assert.deepEqual(parseIndex("::-1"), [slice(undefined, undefined, -1)]);
  assert.deepEqual(parseIndex(":3"), [slice(undefined, 3)]);
  assert.deepEqual(parseIndex(""), []);
  assert.deepEqual(parseIndex(3), [3]);
  assert.deepEqual(parseIndex(null), [null]);
  assert.deepEqual(parseIndex([0, slice(1, 3), "...", null, "2:" as unknown as null]), [
    0,
    slice(1, 3),
    "...",
    null,
    slice(2),
  ]);
  assert.deepEqual(slice(null, 4, null), {
    kind: "slice",
    start: undefined,
    stop: 4,
    step: undefined,
  });
});

Deno.test("parseIndex: malformed items are TypeErrors quoting them, a zero step a RangeError", () => {
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    ["a", TypeError, /^Invalid index "a": item "a" is not an integer, a slice/],
    ["0, 1.5", TypeError, /^Invalid index "0, 1.5": item "1.5"/],
    ["1:2:3:4", TypeError, /item "1:2:3:4"/],
    ["1:x", TypeError, /item "1:x"/],
    [",", TypeError, /^Invalid index ",": item ""/],
    ["::0", RangeError, /^Invalid index "::0": slice step cannot be 0/],
    [slice(0, 2, 0), RangeError, /^Invalid slice: step cannot be 0/],
    [[1.5], TypeError, /^Invalid index item 1.5: not an integer/],
    [[{ kind: "range" }], TypeError, /^Invalid index item \{"kind":"range"\}: use a number, slice/],
    [[true], TypeError, /^Invalid index item true/],
  ];
  for (const [spec, cls, re] of cases) {
    assert.throws(() => parseIndex(spec as string), { name: cls.name, message: re }, String(spec));
  }
});

/** The [2, 3, 4] tensor 0..23 on a device. */
const base = (device: Device): Tensor =>
  tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], { device });

deviceTest("get: integers, negatives, slices, steps, ..., null", async (device) => {
  const t = base(device);
  const cases: [string | Parameters<Tensor["get"]>[0], number[], number[]][] = [
    ["0", [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
    ["-1, -1, -1", [], [23]],
    ["1, 2", [4], [20, 21, 22, 23]],
    [":, -1", [2, 4], [8, 9, 10, 11, 20, 21, 22, 23]],
    ["..., 0", [2, 3], [0, 4, 8, 12, 16, 20]],
    ["0, ..., ::2", [3, 2], [0, 2, 4, 6, 8, 10]],
    ["1, ...", [3, 4], Array.from({ length: 12 }, (_, i) => 12 + i)],
    ["...", [2, 3, 4], Array.from({ length: 24 }, (_, i) => i)],
    ["", [2, 3, 4], Array.from({ length: 24 }, (_, i) => i)],
    ["0, 1:3, 1:4:2", [2, 2], [5, 7, 9, 11]],
    ["::-1, 0, 0", [2], [12, 0]],
    ["0, ::-1, -1", [3], [11, 7, 3]],
    ["0, 0, 3:0:-1", [3], [3, 2, 1]],
    ["0, 0, -1:-5:-2", [2], [3, 1]],
    ["null", [1, 2, 3, 4], Array.from({ length: 24 }, (_, i) => i)],
    ["0, null, 0, null", [1, 1, 4], [0, 1, 2, 3]],
    ["..., null", [2, 3, 4, 1], Array.from({ length: 24 }, (_, i) => i)],
    ["1, ..., null, 2", [3, 1], [14, 18, 22]],
    [":, 5:, 0", [2, 0], []],
    ["0, 0, 9:", [0], []],
    [[1, slice(0, 2), -1], [2], [15, 19]],
    [[null, "...", slice(null, null, 3)], [1, 2, 3, 2], [
      0,
      3,
      4,
      7,
      8,
      11,
      12,
      15,
      16,
      19,
      20,
      23,
    ]],
    [-2, [3, 4], Array.from({ length: 12 }, (_, i) => i)],
  ];
  for (const [spec, shape, want] of cases) {
    const got = t.get(spec);
    assert.deepEqual(got.shape, shape, `get(${JSON.stringify(spec)}) shape`);
    await assertExact(got, want, `get(${JSON.stringify(spec)})`);
  }
  // Views compose: indexing a view indexes the base.
  await assertExact(t.get("1").get("::-1, 1:3").get("0"), [21, 22]);
  await assertExact(t.transpose(0, 2).get("1, 2"), [9, 21]);
});

deviceTest("get returns views that share storage and never copy", (device) => {
  const t = base(device);
  for (const spec of ["0", ":, -1", "::-1", "null, ...", "1, 1:3, ::2"]) {
    assert.equal(t.get(spec).storage, t.storage, spec);
  }
  const v = t.get("1, ::-1, 1:3");
  assert.deepEqual([v.offset, v.strides], [12 + 8 + 1, [-4, 1]]);
  return Promise.resolve();
});

deviceTest(
  "get: out-of-range and malformed indices name the index, the axis and the shape",
  (device) => {
    const t = base(device);
    const cases: [string | Parameters<Tensor["get"]>[0], ErrorConstructor, RegExp][] = [
      [
        "2",
        RangeError,
        /^Index 2 is out of range for axis 0 of size 2 \(shape \[2, 3, 4\], index "2"\)/,
      ],
      ["0, -4", RangeError, /^Index -4 is out of range for axis 1 of size 3 \(shape \[2, 3, 4\]/],
      ["0, 0, 4", RangeError, /^Index 4 is out of range for axis 2 of size 4/],
      [[0, 0, -5], RangeError, /^Index -5 is out of range for axis 2 of size 4 .*index \[0,0,-5\]/],
      [
        "0, 0, 0, 0",
        RangeError,
        /^Index "0, 0, 0, 0" has 4 items for a tensor of shape \[2, 3, 4\] \(rank 3\)/,
      ],
      [":, :, :, null, :", RangeError, /has 4 items for a tensor of shape \[2, 3, 4\]/],
      ["..., 0, ...", TypeError, /^Invalid index "..., 0, ...": only one "..." is allowed/],
      ["x", TypeError, /^Invalid index "x"/],
      ["0:1:0", RangeError, /step cannot be 0/],
    ];
    for (const [spec, cls, re] of cases) {
      assert.throws(() => t.get(spec), { name: cls.name, message: re }, JSON.stringify(spec));
    }
    // A scalar takes no integer index, but does take "...", "" and null.
    const s = tensor(7, undefined, { device });
    assert.throws(() => s.get("0"), {
      name: "RangeError",
      message: /has 1 items for a tensor of shape \[\]/,
    });
    assert.deepEqual(s.get("...").shape, []);
    assert.deepEqual(s.get("null").shape, [1]);
    return Promise.resolve();
  },
);
