// `streamnest inspect`: what a .nemo (or training checkpoint) holds, and whether its encoder streams safely.
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';

export const name = 'inspect';
export const summary = 'Summarise a .nemo or training checkpoint: model class, encoder shape, contexts, parameters, tensors, streaming safety';

const spec = {
  tensors: { type: 'boolean', help: 'list every tensor of the state dict with its shape and dtype' },
  json: { type: 'boolean', help: 'print one JSON object (always includes the tensor list)' },
  dumpTensors: { type: 'string', metavar: 'FILE.json', help: 'write {key: {shape, dtype, sha256 of the raw bytes, sum}} for tools/verify_nemo_export.py' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest inspect FILE [--tensors] [--json] [--dump-tensors FILE.json]

${summary}.
FILE is a NEST SSL or FastConformer CTC/RNNT/hybrid .nemo (tar or tar.gz) or a streamnest training checkpoint.
Only the config and the weights' pickle are read (names, shapes, dtypes; nothing in the file is executed); they are
checked as strictly as a load checks them (every key, every shape) against the model the config describes, built
without memory, so memory stays small whatever the archive's size. The tensor data are not read (--dump-tensors reads
them): a weights member cut short still lists its tensors, with a warning. The streaming-safety verdict is
streamnest's validator (causal subsampling and convolutions, layer norm, bounded look-ahead, streamable
feature normalisation, causal masking for NEST). The exit code is 0 whether or not the model is streaming-safe.

Options:
${formatOptions(spec)}

Examples:
  streamnest inspect exp/tiny/checkpoints/tiny.nemo
  streamnest inspect model.nemo --tensors
  streamnest inspect model.nemo --json | jq .streamingSafety`;

const count = (n: number): string => n.toLocaleString('en-US');
const pair = (p: readonly number[]): string => `[${p.join(', ')}]`;

export async function run(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, spec, { maxPositionals: 1 });
  if (positionals.length !== 1) throw new ArgError(`inspect: expected one FILE\n\n${usage}`);
  const file = positionals[0]!;
  const { loadNemoModel } = await import('../../checkpoint/nemo-model.js');
  const { describeModel, tensorDigests } = await import('../../checkpoint/describe.js');
  const { formatSafetyReport } = await import('../../config/index.js');
  const { writeFileSync } = await import('node:fs');

  const m = loadNemoModel(file, { weights: 'meta' }); // config + pickle only: no tensor data are read
  // which decoder transcribe / eval would use (they load through loadNemoAsrModel)
  const decoding =
    m.kind !== 'asr' || m.family === 'ctc'
      ? null
      : m.family === 'hybrid'
        ? 'transcribe / eval decode with the auxiliary CTC head (aux_ctc.decoder, ctc_decoder.*); the RNN-T decoder.* and joint.* are not used'
        : 'transcribe / eval decode with greedy RNN-T (decoder.*, joint.*), offline only so far';
  let d: ReturnType<typeof describeModel>;
  try {
    d = describeModel(m);
  } finally {
    m.dispose();
  }
  if (options.dumpTensors) writeFileSync(options.dumpTensors, JSON.stringify({ file, tensors: tensorDigests(file) }, null, 1) + '\n');
  if (options.json) {
    process.stdout.write(JSON.stringify(d, null, 1) + '\n');
    return 0;
  }
  const e = d.encoder;
  const values = d.tensors.reduce((a, x) => a + x.shape.reduce((p, s) => p * s, 1), 0);
  const lines = [
    `${file}`,
    `  model:        ${d.family}${d.target ? ` — ${d.target}` : ' (no target in model_config.yaml)'}${d.nemoVersion ? `, nemo_version ${d.nemoVersion}` : ''}`,
    ...(d.trainingStep !== null ? [`  checkpoint:   streamnest training checkpoint at step ${d.trainingStep} (streamnest convert makes a plain .nemo)`] : []),
    `  encoder:      ConformerEncoder, ${e.nLayers} layers, d_model ${e.dModel}, ${e.nHeads} heads, ff x${e.ffExpansionFactor}, ${e.selfAttentionModel}, in ${e.featIn} -> out ${e.featOut}`,
    `  subsampling:  ${e.subsampling} x${e.subsamplingFactor}${e.causalDownsampling ? ' (causal)' : ''}`,
    `  convolution:  kernel ${e.convKernelSize}, ${e.convNormType}, context ${pair(e.convContextSize)}`,
    `  attention:    ${e.attContextStyle}, att_context_size ${e.attContextSize.map(pair).join(' ')} (default ${pair(e.defaultAttContextSize)})`,
    `  features:     ${d.preprocessor.features} mel at ${d.preprocessor.sampleRate} Hz, window ${d.preprocessor.windowSize ?? '?'} s / stride ${d.preprocessor.windowStride ?? '?'} s, normalize ${String(d.preprocessor.normalize)}`,
    `  parameters:   ${count(d.parameters.total)} (encoder ${count(d.parameters.encoder)})`,
    `  tensors:      ${d.tensors.length} in the state dict, ${count(values)} values${options.tensors ? '' : ' (--tensors lists them)'}`,
  ];
  if (decoding) lines.push(`  decoding:     ${decoding}`);
  // what reading the file noticed (a weights member cut short, ...); the config's notes are in --json
  for (const w of d.warnings) if (w.startsWith(`${file}: `)) lines.push(`  warning:      ${w}`);
  if (d.ignored.length) {
    lines.push(
      `  not loaded:   ${d.ignored.map((g) => (g.kind === 'tensors' ? `${g.what} (${g.count} tensors)` : `${g.what} (file, ${count(g.size)} bytes)`)).join(', ')}`,
    );
  }
  if (options.tensors) {
    const w = Math.max(...d.tensors.map((x) => x.key.length));
    for (const x of d.tensors) lines.push(`    ${x.key.padEnd(w)}  ${x.dtype.padEnd(8)} ${pair(x.shape)}`);
  }
  const safety = formatSafetyReport('streaming safety', d.streamingSafety.problems);
  lines.push(`  ${safety.replace(/\n/g, '\n  ')}`);
  if (d.streamingSafety.note) lines.push(`    (${d.streamingSafety.note})`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
