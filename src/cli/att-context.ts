// --att-context-size for the commands that run a stored model: parsed, and checked against the contexts the model
// was trained with (a multi-look-ahead model serves any of its pairs; another pair was never trained).
import { ArgError } from './args.js';
import { parseAttContextSize } from '../config/schema/encoder.js';
import type { AttContextSize, ConformerEncoder } from '../model/index.js';

/** "L,R" (or "[L, R]") -> [L, R]; ArgError naming the flag otherwise. */
export function parseContextPair(s: string, flag: string): [number, number] {
  const pair = parseAttContextSize(s);
  if (!pair) throw new ArgError(`${flag}: expected L,R (two integers, -1 = unlimited), got '${s}'`);
  if (pair[0] < -1 || pair[1] < -1) throw new ArgError(`${flag}: context sizes must be >= -1, got '${s}'`);
  return pair;
}

/** The pair of --att-context-size if given (undefined otherwise); ArgError unless `file`'s encoder was trained with it. */
export function trainedContext(value: string | undefined, encoder: ConformerEncoder, command: string, file: string): AttContextSize | undefined {
  if (value === undefined) return undefined;
  const ctx = parseContextPair(value, '--att-context-size');
  const all = encoder.context.sizes.all;
  if (!all.some(([l, r]) => l === ctx[0] && r === ctx[1])) {
    const list = all.map((p) => `${p[0]},${p[1]}`).join(' ');
    throw new ArgError(`${command}: --att-context-size ${ctx.join(',')} is not one of ${file}'s trained contexts (${list})`);
  }
  return ctx;
}

/**
 * For commands that run a stored model offline and streaming: checks --att-context-size as trainedContext does and
 * makes the pair the encoder's default (what the offline pass runs); returns it for the streaming recognizer.
 */
export function chooseTrainedContext(value: string | undefined, encoder: ConformerEncoder, command: string, file: string): AttContextSize | undefined {
  const ctx = trainedContext(value, encoder, command, file);
  if (ctx) encoder.setDefaultAttContextSize(ctx);
  return ctx;
}
