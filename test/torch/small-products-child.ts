// Child process of small-products.test.ts: run with STREAMNEST_SMALL_PRODUCTS set, prints (JSON) the kernel the
// addon chose, its panel width, the largest difference between the kernel's products and ATen's (relative to the
// values' scale) over row counts 1-64 and widths the panels do not divide, and the kind of copy linear cached.
import * as t from '../../src/torch/index.js';
import { SMALL_PRODUCT_KERNEL } from '../../src/torch/ops/nn.js';
import { native } from '../../src/torch/native.js';

const g = new t.Generator(9);
let worst = 0;
let nr = 0;
let derivedKind: string | null = null;
t.tidy(() => {
  if (SMALL_PRODUCT_KERNEL !== null) nr = new t.Tensor(native.packWeight(t.zeros([1, 1]).native)).size(2);
  for (const [inF, outF] of [
    [176, 704],
    [40, 17],
    [7, 9],
  ] as const) {
    const w = t.randn([outF, inF], { generator: g });
    const b = t.randn([outF], { generator: g });
    for (let rows = 1; rows <= 64; rows++) {
      const x = t.randn([rows, inF], { generator: g });
      const y = t.noGrad(() => t.linear(x, w, b));
      const ref = t.matmul(x, w.transpose(0, 1)).add(b); // ATen's gemm
      const scale = ref.abs().max().item() as number;
      worst = Math.max(worst, (y.sub(ref).abs().max().item() as number) / scale);
    }
    derivedKind = w.derived?.kind ?? null;
  }
});
// many rows (chunked) with the fused ReLU
let worstRelu = 0;
if (SMALL_PRODUCT_KERNEL !== null) {
  t.tidy(() => {
    const x = t.randn([300, 9], { generator: g });
    const w = t.randn([37, 9], { generator: g });
    const b = t.randn([37], { generator: g });
    const y = t.noGrad(() => new t.Tensor(native.packedProducts(x.native, new t.Tensor(native.packWeight(w.native)).native, 37, b.native, true)));
    const ref = t.matmul(x, w.transpose(0, 1)).add(b).relu();
    worstRelu = (y.sub(ref).abs().max().item() as number) / (ref.abs().max().item() as number);
  });
}
process.stdout.write(JSON.stringify({ kernel: SMALL_PRODUCT_KERNEL, nr, worst, worstRelu, derivedKind }) + '\n');
