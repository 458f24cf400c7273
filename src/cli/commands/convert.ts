// `streamnest convert`: a training checkpoint or any .nemo -> a plain uncompressed NeMo .nemo.
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';

export const name = 'convert';
export const summary = 'Convert a streamnest training checkpoint (.ckpt) or a .nemo (tar.gz, old layouts) to a plain NeMo .nemo';

const spec = {
  json: { type: 'boolean', help: 'print the report as one JSON object' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest convert IN OUT.nemo [--json]

${summary}.
IN is a training checkpoint written by 'streamnest pretrain' (<name>--last.ckpt, ...: the .nemo layout plus
trainer_state.ckpt and trainer_state.json, which are dropped) or a .nemo (gzip-compressed or plain tar, with or
without './' member names; tokenizer and other files are kept). OUT is NeMo's save_to layout, uncompressed,
written atomically. The model is loaded (strictly) first, so IN must be a model streamnest loads
(NEST SSL or FastConformer CTC/RNNT/hybrid); other inputs are refused with the reason.

Options:
${formatOptions(spec)}

Examples:
  streamnest convert exp/tiny/checkpoints/tiny--last.ckpt tiny.nemo
  streamnest convert downloaded.nemo normalised.nemo`;

export async function run(argv: string[]): Promise<number> {
  const { options, positionals } = parseArgs(argv, spec, { maxPositionals: 2 });
  if (positionals.length !== 2) throw new ArgError(`convert: expected IN and OUT\n\n${usage}`);
  const [input, output] = positionals as [string, string];
  const { convertToNemo } = await import('../../checkpoint/convert.js');
  const r = convertToNemo(input, output);
  if (options.json) {
    process.stdout.write(JSON.stringify(r, null, 1) + '\n');
  } else {
    const from = r.source === 'training-checkpoint' ? 'training checkpoint' : `.nemo (${r.inputFormat})`;
    process.stdout.write(`wrote ${r.output}: ${r.model}, ${r.tensors} tensors, from a ${from}\n`);
    if (r.dropped.length) process.stdout.write(`  dropped: ${r.dropped.join(', ')}\n`);
    if (r.kept.length) process.stdout.write(`  kept: ${r.kept.join(', ')}\n`);
  }
  return 0;
}
