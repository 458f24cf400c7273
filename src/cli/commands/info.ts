// `streamnest info`: what this installation runs on (libtorch, BLAS, threads, CUDA).
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import { packageVersion } from '../command.js';

export const name = 'info';
export const summary = 'Show the libtorch version, the BLAS in use, threads and CUDA availability';

const spec = {
  json: { type: 'boolean', help: 'print one JSON object instead of text' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest info [--json]

${summary}.

Options:
${formatOptions(spec)}

Global options (before or after the command): --threads N (or STREAMNEST_THREADS=N).`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  const t = await import('../../torch/index.js');
  const { native } = await import('../../torch/native.js');
  const blas = t.blasReport();
  const cuda = native.cudaInfo();
  const smallProducts = native.smallProductKernel();
  const info = {
    streamnest: packageVersion(),
    node: process.version,
    libtorch: t.libtorchVersion(),
    blas: { kind: blas.kind, library: blas.library, openblasThreads: blas.threads ?? null, openblasCore: blas.core ?? null },
    smallProductKernel: smallProducts,
    dropoutMaskLoop: native.dropoutMaskKernel(),
    threads: t.getNumThreads(),
    threadsEnv: process.env.STREAMNEST_THREADS ?? null,
    cuda: { available: cuda.available, deviceCount: cuda.deviceCount },
  };
  if (options.json) {
    process.stdout.write(JSON.stringify(info) + '\n');
    return 0;
  }
  const rows: [string, string][] = [
    ['streamnest', info.streamnest],
    ['node', info.node],
    ['libtorch', info.libtorch],
    ['BLAS', `${blas.kind}${blas.library ? ` (${blas.library})` : ''}${blas.kind === 'reference' ? '  <-- slow, install libopenblas0-pthread' : ''}`],
    ...openblasCoreRow(blas.core),
    [
      'small products',
      smallProducts
        ? `${smallProducts} kernel (1-64 rows at inference; STREAMNEST_SMALL_PRODUCTS=off for ATen's)`
        : "ATen's routes (no kernel for this CPU, or STREAMNEST_SMALL_PRODUCTS=off)",
    ],
    ['dropout masks', `Philox4x32-10, ${info.dropoutMaskLoop} loop (training with a dropout generator, float32 and bfloat16)`],
    ['threads', `${info.threads} (libtorch intra-op${blas.threads !== undefined ? `; OpenBLAS ${blas.threads}` : ''})`],
    ['CUDA', cuda.available ? `available, ${cuda.deviceCount} device${cuda.deviceCount === 1 ? '' : 's'}` : 'not available'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  return 0;
}

/** OpenBLAS's kernels (its choice for the CPU, or OPENBLAS_CORETYPE's), where the BLAS is OpenBLAS. */
function openblasCoreRow(core: string | undefined): [string, string][] {
  if (core === undefined) return [];
  return [['OpenBLAS kernels', process.env.OPENBLAS_CORETYPE ? `${core} (from OPENBLAS_CORETYPE)` : core]];
}
