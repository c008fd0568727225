// The cpu's two matmul tiers agree through the Tensor API: the WebAssembly SIMD fast tier against
// the plain-TypeScript reference on random shapes with odd sizes (1, 3, 17, 50257 columns),
// transposed and sliced views, 1-D operands and batch broadcasting.

import assert from "node:assert/strict";
import { cpuTier, randn, setCpuTier, type Tensor } from "../../engine/mod.ts";
import { assertClose } from "../_assert.ts";
import { withTier } from "../_devices.ts";

/** Compares the tiers on one product; float32 accumulation over K terms bounds the tolerance. */
async function compare(label: string, a: Tensor, b: Tensor): Promise<void> {
  const ref = withTier("reference", () => a.matmul(b));
  const fast = withTier("fast", () => a.matmul(b));
  assert.deepEqual(fast.shape, ref.shape, `${label}: shape`);
  const K = a.shape[a.ndim - 1];
  await assertClose(fast, ref, {
    atol: 2e-6 * K + 1e-6,
    rtol: 1e-5,
    msg: `${label}: fast vs reference`,
  });
}

let seed = 100;
const rnd = (...shape: number[]) => randn(shape, { seed: seed++ });

Deno.test("setCpuTier switches the tier and returns the previous one", () => {
  const start = cpuTier();
  assert.equal(setCpuTier("reference"), start);
  assert.equal(cpuTier(), "reference");
  assert.equal(setCpuTier("fast"), "reference");
  assert.equal(cpuTier(), "fast");
  setCpuTier(start);
});

Deno.test("tiers agree on odd 2-D shapes", async () => {
  // Small products fall back to the reference inside the fast tier; the rest (M*N*K of 16 Ki
  // and up) run the SIMD kernels with odd edges: N = 1, 3, 17, 50257 and M = 1 (decode).
  // deno-fmt-ignore
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 3, 1], [3, 5, 3], [5, 17, 1], [17, 33, 17], [64, 64, 64], [65, 65, 65],
    [4, 768, 17], [17, 33, 65], [3, 17, 1000], [1, 129, 129], [5, 1, 4099], [33, 3, 257],
    [50, 17, 50], [8, 2048, 3], [2, 13, 50257], [1, 768, 50257],
  ];
  for (const [M, K, N] of shapes) await compare(`[${M},${K}] @ [${K},${N}]`, rnd(M, K), rnd(K, N));
});

Deno.test("tiers agree on transposed, sliced and offset views", async () => {
  // The GPT-2 head: hidden [T, C] @ wte[V, C]^T with V = 50257.
  await compare("[3,32] @ [50257,32]^T", rnd(3, 32), rnd(50257, 32).transpose());
  await compare("[17,8] @ [3,8]^T", rnd(17, 8), rnd(3, 8).transpose());
  await compare("[33,65] @ [127,65]^T", rnd(33, 65), rnd(127, 65).transpose());
  await compare("[5,7]^T @ [5,3]", rnd(5, 7).transpose(), rnd(5, 3));
  await compare("[9,4]^T @ [17,9]^T", rnd(9, 4).transpose(), rnd(17, 9).transpose());
  await compare("column-sliced a", rnd(6, 34).get(":, ::2"), rnd(17, 5));
  await compare("row-offset a and b", rnd(4, 17).get("1:"), rnd(18, 3).get("1:"));
  await compare("flipped b", rnd(3, 5), rnd(5, 17).get("::-1, ::-1"));
  await compare("broadcast (0-stride) b", rnd(3, 4), rnd(4, 1).expand(4, 17));
});

Deno.test("tiers agree on 1-D operands and batch broadcasting", async () => {
  await compare("[17] @ [17,50257]", rnd(17), rnd(17, 50257));
  await compare("[3,17] @ [17]", rnd(3, 17), rnd(17));
  await compare("[33] @ [33]", rnd(33), rnd(33));
  await compare("[2,1,5,7] @ [3,7,9]", rnd(2, 1, 5, 7), rnd(3, 7, 9));
  await compare("[2,1,17,33] @ [3,33,65]", rnd(2, 1, 17, 33), rnd(3, 33, 65));
  await compare("[2,5,7] @ [7,3]", rnd(2, 5, 7), rnd(7, 3));
  await compare("[5,7] @ [4,7,1]", rnd(5, 7), rnd(4, 7, 1));
  // Attention's q @ k^T: [B, nh, T, hs] @ [B, nh, hs, T].
  const q = rnd(2, 4, 17, 64), k = rnd(2, 4, 17, 64);
  await compare("q @ k^T", q, k.transpose(-2, -1));
  await compare("permuted batch", rnd(3, 2, 5).permute(1, 0, 2), rnd(2, 5, 3));
});
