// `streamnest finetune`: CTC or RNN-T (transducer) fine-tuning of a pretrained encoder, characters or SentencePiece
// sub-words (NeMo's speech_to_text_ctc(_bpe).py / speech_to_text_rnnt(_bpe).py with init_from_nemo_model), on the
// shared Trainer: checkpoints, exact resume, logs, loss plot, final .nemo. A config with model.joint is a transducer.
import { formatOptions, parseArgs, type OptionsSpec } from '../args.js';

export const name = 'finetune';
export const summary = 'Fine-tune a pretrained (NEST) encoder for CTC or RNN-T speech recognition (characters or SentencePiece sub-words)';

const spec = {
  init: { type: 'string', metavar: 'MODEL.nemo', help: 'pretrained .nemo: its preprocessor and encoder (config and weights) start the model' },
  config: {
    type: 'string',
    short: 'c',
    default: 'ctc_tiny',
    metavar: 'PRESET|FILE',
    help: 'CTC, transducer or hybrid RNN-T/CTC config (NeMo layout): ctc_tiny, rnnt_tiny, hybrid_tiny or a file',
  },
  fromScratch: { type: 'boolean', help: 'take only the architecture from --init, not its weights (the no-pretraining baseline)' },
  seed: { type: 'integer', default: 1234, help: 'seed of the decoder initialisation, data order, spec augment and dropout' },
  quiet: { type: 'boolean', help: 'no progress bar' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest finetune --init MODEL.nemo [--config PRESET|FILE] [--from-scratch] [key.path=value ...]

${summary}.

Options:
${formatOptions(spec)}

Overrides (NeMo key layout): model.train_ds.manifest_filepath=train.json  model.labels=null
  trainer.max_steps=2000  model.freeze_encoder_steps=200  model.spec_augment.time_masks=0
  model.tokenizer.dir=DIR model.tokenizer.type=bpe  (sub-words: DIR/tokenizer.model from NeMo's
  process_asr_text_tokenizer.py or spm_train; the .nemo is an EncDecCTCModelBPE holding the tokenizer)
Transducers: --config rnnt_tiny (EncDecRNNTModel, or EncDecRNNTBPEModel with model.tokenizer.dir; RNN-T loss,
  greedy decoding for the validation WER)  model.decoder.prednet.pred_hidden=320  model.rnnt_reduction=mean_volume
Hybrids: --config hybrid_tiny (EncDecHybridRNNTCTCModel: loss (1 - w) * rnnt + w * ctc with
  w = model.aux_ctc.ctc_loss_weight; validation WER of the transducer head)

Outputs under exp_manager.exp_dir/<name>/: checkpoints/ (top-k by validation WER, <name>--last.ckpt,
<name>.nemo), metrics.csv (val_loss holds the validation WER), TensorBoard events, loss.png.
Then: streamnest transcribe --model <name>.nemo --audio clip.wav [--streaming]
      streamnest eval --model <name>.nemo --manifest test.json [--streaming]`;

export async function run(argv: string[]): Promise<number> {
  const { options, overrides } = parseArgs(argv, spec, { overrides: true, maxPositionals: 0 });
  const { readNemoArchive } = await import('../../checkpoint/nemo-archive.js');
  const { loadFinetuneConfig, finetuneFamily } = await import('../../train/asr-finetuning.js');
  if (!options.init && options.fromScratch) throw new Error('--from-scratch takes the architecture from --init MODEL.nemo; give --init too');
  const init = options.init ? readNemoArchive(options.init) : null;
  try {
    const loaded = loadFinetuneConfig(
      options.config,
      init?.configYaml ?? null,
      overrides.map((o) => o.text),
    );
    const family = finetuneFamily(loaded);
    const finetune =
      family === 'ctc' ? (await import('../../train/ctc-finetuning.js')).finetuneCtc : (await import('../../train/rnnt-finetuning.js')).finetuneRnnt;
    const r = await finetune({
      loaded,
      initWeights: init && !options.fromScratch ? init.stateDict : null,
      baseDir: process.cwd(),
      seed: options.seed,
      progress: !options.quiet,
    });
    const first = r.trainLoss[0];
    const last = r.trainLoss[r.trainLoss.length - 1];
    const lines = [
      `streamnest: fine-tuning finished at step ${r.globalStep} (${r.stoppedBy})`,
      first && last ? `  ${family}_loss ${first.loss.toFixed(4)} (step ${first.step}) -> ${last.loss.toFixed(4)} (step ${last.step})` : '',
      r.valLoss.length ? `  val WER ${r.valLoss.map((v) => `${(100 * v.loss).toFixed(2)}%@${v.step}`).join(', ')}` : '',
      `  logs: ${r.logDir}`,
      r.nemoPath ? `  model: ${r.nemoPath}` : '',
    ];
    process.stdout.write(lines.filter((l) => l).join('\n') + '\n');
    return r.stoppedBy === 'non_finite' ? 1 : 0;
  } finally {
    if (init) for (const x of init.stateDict.values()) x.dispose();
  }
}
