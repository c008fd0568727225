// Renders a logit-lens SVG in headless Chromium (Debian's `chromium`, which .ci/run installs) and
// checks the screenshot: many colours, not all background, the cell colours where they belong.
// Skipped, saying so, only where no Chromium binary is on PATH.

import assert from "node:assert/strict";
import { logitLensSvg } from "../../viz/mod.ts";
import { decodePng } from "./_png.ts";

const NAMES = ["chromium"];

/** The first Chromium binary on PATH (by name, as --allow-run grants it), or null. */
function findChromium(): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d);
  for (const name of NAMES) {
    for (const dir of dirs) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return name;
      } catch { /* not here */ }
    }
  }
  return null;
}

const chromium = findChromium();
if (!chromium) {
  console.log(
    `SKIPPED the Chromium rendering test: none of ${
      NAMES.join(", ")
    } is on PATH (install Debian's "chromium" package; .ci/run does)`,
  );
}

Deno.test({
  name: "viz: a logit lens SVG renders in headless Chromium, cells in their colours",
  ignore: !chromium,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsight-chromium-" });
    try {
      // Layer 0 all p = 1 (yellow), layer 1 all p = 0 (dark purple); cells start at (70, 40).
      const tokens = ["The", " <cat>", " &", " sat"];
      const svg = logitLensSvg({
        tokens,
        cells: [1, 0].map((prob) => tokens.map((token) => ({ token, prob }))),
      });
      await Deno.writeTextFile(`${dir}/lens.svg`, svg);
      const { code, stderr } = await new Deno.Command(chromium!, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--hide-scrollbars",
          "--force-device-scale-factor=1",
          `--user-data-dir=${dir}/profile`,
          `--screenshot=${dir}/lens.png`,
          "--window-size=500,300",
          `file://${dir}/lens.svg`,
        ],
        stdout: "null",
        stderr: "piped",
        env: { HOME: dir },
      }).output();
      assert.equal(code, 0, new TextDecoder().decode(stderr));
      const img = decodePng(await Deno.readFile(`${dir}/lens.png`));
      assert.deepEqual([img.width, img.height], [500, 300]);
      const pixel = (
        x: number,
        y: number,
      ) => [...img.rgba.subarray((y * 500 + x) * 4, (y * 500 + x) * 4 + 3)];
      const colours = new Set<number>();
      let white = 0;
      for (let i = 0; i < img.rgba.length; i += 4) {
        const rgb = (img.rgba[i] << 16) | (img.rgba[i + 1] << 8) | img.rgba[i + 2];
        colours.add(rgb);
        if (rgb === 0xffffff) white++;
      }
      console.log(
        `${colours.size} distinct colours, ${(100 * white / (500 * 300)).toFixed(1)}% white`,
      );
      assert.ok(
        colours.size >= 20,
        `only ${colours.size} distinct colours: the render looks blank`,
      );
      assert.ok(white < 0.95 * 500 * 300, "the screenshot is almost all white");
      const near = (got: number[], want: number[]) =>
        assert.ok(got.every((v, k) => Math.abs(v - want[k]) <= 3), `pixel ${got} is not ${want}`);
      near(pixel(73, 43), [0xfd, 0xe7, 0x25]); // layer 0, position 0: p = 1
      near(pixel(73 + 3 * 64, 43 + 32), [0x44, 0x01, 0x54]); // layer 1, position 3: p = 0
      near(pixel(5, 290), [255, 255, 255]); // background
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
