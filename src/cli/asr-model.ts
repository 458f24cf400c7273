// What `transcribe` and `eval` need of the ASR model they load (loadNemoAsrModel: CTC, or a transducer): cache-aware
// streaming runs the OnlineRecognizer, which decodes CTC; a transducer is refused there until its streaming greedy
// decoding (the prediction network's state carried next to the encoder cache) is wired into the recognizer.
import type { CtcModel } from '../asr/ctc-model.js';
import type { LoadedNemoCtcModel, LoadedNemoRnntModel } from '../checkpoint/nemo-model.js';
import { ArgError } from './args.js';

/** The CTC model to stream; an ArgError naming the command and file for a transducer. */
export function streamingCtcModel(loaded: LoadedNemoCtcModel | LoadedNemoRnntModel, command: string, file: string): CtcModel {
  if (loaded.kind === 'ctc') return loaded.model;
  throw new ArgError(
    `${command}: ${file} is a transducer (${loaded.target ?? 'RNN-T'}); --streaming decodes CTC models only so far (issue #19): run it without --streaming`,
  );
}
