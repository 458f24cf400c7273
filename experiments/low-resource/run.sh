#!/usr/bin/env bash
# Low-resource downstream experiment (issue #14): NEST pretraining on all the unlabelled training speech, then
# character-CTC fine-tuning on a small labelled subset, pretrained against from scratch with the same fine-tuning
# steps, 3 fine-tuning seeds per row (mean ± std of the best dev WER), causal / look-ahead / bidirectional; plus the
# target-normalisation ablation (none / per_utterance / per_frame), the target-alignment ablation (first_frames /
# whole_group) and the masking ablation (NEST blocks of 400 ms / short blocks of 40 ms) on the causal model, the
# look-ahead and the bidirectional model; and fixed global feature statistics for the encoder (causal and look-ahead
# models, each against its own from-scratch row); and a larger encoder (d 176 instead of 96, causal and look-ahead,
# each against its own from-scratch row). One pretraining run (seed 1234) per pretrained row.
#
#   experiments/low-resource/run.sh [--out DIR] [--jobs 2] [--minutes 90] [--labelled-min 10] [--pre-steps 800] [--ft-steps 500]
#                                   [--ft-freeze N] [--ft-lr 0.5] [--seeds '1 2 3'] [--only REGEX] [--corpus DIR] [--metric wer|cer]
#   --ft-freeze N: fine-tune with the encoder frozen for the first N steps (model.freeze_encoder_steps: the CTC head
#     learns on the encoder's features first; N = --ft-steps keeps it frozen throughout, a probe of the features);
#     the runs are named <row>-freezeN-s<seed>
#   --ft-lr X: the fine-tuning Noam scale (model.optim.lr; 0.5 = peak 3.6e-3 at step 200); other than 0.5 the runs
#     are named <row>-lrX-s<seed>
#   --only: run just the pretraining and fine-tuning rows whose name matches (e.g. 'causal-per_utterance$|scratch-causal')
#   --corpus DIR: a prepared corpus instead of the synthetic one (DIR/{pretrain,labelled,dev,noise}_manifest.json, e.g.
#     real speech from experiments/real-speech/prepare.mjs; --minutes and --labelled-min are then not used)
#   --metric cer: rank the fine-tuning runs by their best dev character error rate instead of word error rate
#
# Corpus (experiments/common/corpus.sh): make-corpus --minutes 90 --seed 8 (espeak-ng voices); the held-out voices (en-gb-scotland,
# en-gb-scotland+m2, en-029+f1) are removed from training; dev = the validation sentences of the other voices.
# The labelled subset is the first utterances of the (shuffled) pretraining set up to --labelled-min minutes.
# A run that finished (its .nemo written after its last step) is skipped; an interrupted run resumes exactly from its
# last checkpoint.
# Needs a built streamnest (npm run build). Prints the table (results.md) and draws dev-wer.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/exp/low-resource"; corpus=''; metric=wer; jobs=2; minutes=90; labelled_min=10; pre_steps=800; ft_steps=500; ft_freeze=0; ft_lr=0.5; seeds='1 2 3'; only=''
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --labelled-min) labelled_min="$2"; shift 2 ;;
    --pre-steps) pre_steps="$2"; shift 2 ;;
    --ft-steps) ft_steps="$2"; shift 2 ;;
    --ft-freeze) ft_freeze="$2"; shift 2 ;;
    --ft-lr) ft_lr="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --corpus) corpus="$(cd "$2" && pwd)"; shift 2 ;;
    --metric) metric="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
SN="${STREAMNEST:-node $root/dist/src/cli/main.js} --threads 1"
mkdir -p "$out"; cd "$root"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$out/run.log"; }
C="$out/corpus"
if [ -n "$corpus" ]; then
  [ -e "$C" ] || ln -s "$corpus" "$C"
  [ "$(cd "$C" && pwd -P)" = "$(cd "$corpus" && pwd -P)" ] || { echo "$C exists and is not $corpus" >&2; exit 2; }
  log "corpus: $corpus"
else
  log "corpus: $minutes min"
  SN="$SN" "$root/experiments/common/corpus.sh" "$C" "$minutes" "$labelled_min" | tee -a "$out/run.log"
fi

# the encoder: 4 layers of d 96 (arch_d96, every row but one), or the larger-encoder row's 4 layers of d 176 (NEST-Small's
# width; 3.1x the parameters)
arch_d96="model.encoder.subsampling_factor=4 model.encoder.n_layers=4 model.encoder.d_model=96 model.encoder.n_heads=4 model.encoder.subsampling_conv_channels=96 model.train_ds.batch_size=8 model.validation_ds.batch_size=8"
arch_d176="${arch_d96/d_model=96/d_model=176}"
ctx_causal="model.encoder.att_context_size=[-1,0] model.encoder.att_context_style=regular"
ctx_lookahead="model.encoder.att_context_size=[-1,4] model.encoder.att_context_style=chunked_limited"
ctx_bidirectional="streaming=false model.encoder.att_context_size=[-1,-1] model.encoder.causal_downsampling=false model.encoder.conv_context_size=null model.masking.causal=false"
# masking: NEST's default (blocks of 40 feature frames = 400 ms, mask_prob 0.01: about a third of the frames masked),
# or short blocks of 4 frames (40 ms, one encoder frame at subsampling 4) with mask_prob 0.085: also about 30% masked
mask_nest=""
mask_short="model.masking.block_size=4 model.masking.mask_prob=0.085"
# the mask-ratio ablation: short blocks with mask_prob 0.16, about half of the frames masked (1 - 0.84^4 = 0.50;
# wav2vec 2.0 and HuBERT mask about half)
mask_half="model.masking.block_size=4 model.masking.mask_prob=0.16"
# what the encoder sees: raw log-mel (NA, the streaming presets' default), or fixed global statistics estimated over
# the pretraining manifest at the start of pretraining (streaming-safe; written into the .nemo, so fine-tuning, from
# the pretrained encoder or from scratch with its architecture, normalises the same way)
features_na=""
features_fixed='model.preprocessor.normalize={"fixed_mean":null,"fixed_std":null}'
# pretraining rows: name context target_normalize target_alignment [masking [features [encoder]]]; a row with fixed
# feature statistics or another encoder also gets its own from-scratch row, scratch-<name>, with those statistics and
# that encoder
MAIN=(
  "causal-per_utterance causal per_utterance first_frames"
  "lookahead-per_utterance lookahead per_utterance first_frames"
  "bidirectional-per_utterance bidirectional per_utterance first_frames"
)
ABLATION=(
  "causal-none causal none first_frames"
  "causal-per_frame causal per_frame first_frames"
  "causal-per_utterance-whole_group causal per_utterance whole_group"
  "causal-short_blocks causal per_utterance first_frames short"
  "lookahead-short_blocks lookahead per_utterance first_frames short"
  "bidirectional-short_blocks bidirectional per_utterance first_frames short"
  "causal-fixed_stats causal per_utterance first_frames short fixed"
  "lookahead-fixed_stats lookahead per_utterance first_frames short fixed"
  "causal-mask50 causal per_utterance first_frames half"
  "lookahead-mask50 lookahead per_utterance first_frames half"
  "causal-d176 causal per_utterance first_frames short na d176"
  "lookahead-d176 lookahead per_utterance first_frames short na d176"
  "causal-d176-fixed_stats causal per_utterance first_frames short fixed d176"
  "lookahead-d176-fixed_stats lookahead per_utterance first_frames short fixed d176"
)
PRE=("${MAIN[@]}" "${ABLATION[@]}")
# a run is done when its .nemo was written after its last step (one stopped by a signal writes its .nemo too, and
# resumes from its last checkpoint when run again)
finished() { [ -f "$1" ] && grep -q 'finished at step [0-9]* (max_steps)' "$2"; }
pretrain() {
  set -- $1; local name=$1 ctxname=ctx_$2 norm=$3 align=$4 maskname=mask_${5:-nest} featname=features_${6:-na} archname=arch_${7:-d96}
  local nemo="$out/pretrain/$name/checkpoints/$name.nemo"
  finished "$nemo" "$out/pretrain-$name.log" && return 0
  log "pretrain $name ($pre_steps steps)"
  $SN pretrain --quiet ${!ctxname} ${!archname} ${!maskname} ${!featname} model.target_normalize=$norm model.target_alignment=$align \
    trainer.max_steps=$pre_steps trainer.val_check_interval=200 \
    model.train_ds.manifest_filepath=$C/pretrain_manifest.json model.train_ds.noise_manifest=$C/noise_manifest.json \
    model.validation_ds.manifest_filepath=$C/dev_manifest.json model.validation_ds.noise_manifest=$C/noise_manifest.json \
    exp_manager.exp_dir=$out/pretrain exp_manager.name=$name exp_manager.resume_if_exists=true > "$out/pretrain-$name.log" 2>&1 || { log "FAILED pretrain $name"; return 1; }
}
finetune() { # init-row seed; init-row is a pretraining row name or scratch-<context>
  set -- $1; local init=$1 seed=$2 flag="" src name="$1-s$2"
  if [[ $init == scratch-* && -f "$out/pretrain/${init#scratch-}/checkpoints/${init#scratch-}.nemo" ]]; then
    # scratch-<row>: that pretraining row's architecture and feature statistics; the weights are not used
    src="$out/pretrain/${init#scratch-}/checkpoints/${init#scratch-}.nemo"; flag="--from-scratch"
  elif [[ $init == scratch-* ]]; then # the architecture of the first pretraining row of that context that ran with raw log-mel and the d 96 encoder; the weights are not used
    local row; src=""
    for row in $plain_rows; do
      [[ $row == "${init#scratch-}"-* && -f "$out/pretrain/$row/checkpoints/$row.nemo" ]] && { src="$out/pretrain/$row/checkpoints/$row.nemo"; break; }
    done
    [ -n "$src" ] || { log "FAILED finetune $1-s$2: no pretraining row of context ${init#scratch-} to take the architecture from"; return 1; }
    flag="--from-scratch"
  else
    src="$out/pretrain/$init/checkpoints/$init.nemo"
    finished "$src" "$out/pretrain-$init.log" || { log "FAILED finetune $1-s$2: pretraining $init has not finished"; return 1; }
  fi
  if [ "$ft_freeze" -gt 0 ]; then flag="$flag model.freeze_encoder_steps=$ft_freeze"; name="$init-freeze$ft_freeze-s$seed"; fi
  if [ "$ft_lr" != 0.5 ]; then name="${name%-s$seed}-lr$ft_lr-s$seed"; fi
  finished "$out/finetune/$name/checkpoints/$name.nemo" "$out/finetune-$name.log" && return 0
  log "finetune $name ($ft_steps steps)"
  $SN finetune --quiet --init "$src" $flag --seed "$seed" trainer.max_steps=$ft_steps trainer.val_check_interval=50 \
    model.train_ds.batch_size=8 model.validation_ds.batch_size=8 model.optim.lr=$ft_lr model.optim.sched.warmup_steps=200 \
    model.train_ds.manifest_filepath=$C/labelled_manifest.json model.validation_ds.manifest_filepath=$C/dev_manifest.json \
    exp_manager.exp_dir=$out/finetune exp_manager.name=$name exp_manager.resume_if_exists=true > "$out/finetune-$name.log" 2>&1 || { log "FAILED finetune $name"; return 1; }
}
export -f finished pretrain finetune log
# a plain row: raw log-mel and the d 96 encoder. The generic scratch-<context> rows take a plain row's architecture;
# every other row gets its own scratch-<row>
is_plain() { local _ f e; read -r _ _ _ _ _ f e <<< "$1"; [[ ${f:-na} == na && ${e:-d96} == d96 ]]; }
plain_rows=""
for r in "${PRE[@]}"; do if is_plain "$r"; then plain_rows+="${r%% *} "; fi; done
export out SN arch_d96 arch_d176 plain_rows ctx_causal ctx_lookahead ctx_bidirectional mask_nest mask_short mask_half features_na features_fixed pre_steps ft_steps ft_freeze ft_lr C
pick() { if [ -n "$only" ]; then grep -E -- "^($only)( |$)" || true; else cat; fi; }
printf '%s\n' "${PRE[@]}" | pick | xargs -P "$jobs" -I{} bash -c 'pretrain "$@"' _ {}
# seed by seed: the main rows, from scratch, then the ablation rows
FT=()
for seed in $seeds; do
  for r in "${MAIN[@]}"; do FT+=("${r%% *} $seed"); done
  for c in causal lookahead bidirectional; do FT+=("scratch-$c $seed"); done
  for r in "${ABLATION[@]}"; do
    FT+=("${r%% *} $seed")
    if ! is_plain "$r"; then FT+=("scratch-${r%% *} $seed"); fi
  done
done
printf '%s\n' "${FT[@]}" | pick | xargs -P "$jobs" -I{} bash -c 'finetune "$@"' _ {}
node "$here/report.mjs" "$out" "${STREAMNEST_DIST:-$root/dist}" "$metric" | tee "$out/results.md"
log "done: $out/results.md, $out/dev-wer.png"
