#!/usr/bin/env bash
# Multi-latency experiment (issue #17): does one model trained on several look-aheads (dynamic chunk training) serve
# each of them as well as a model trained for that look-ahead alone? And does multi-scale block masking in NEST
# pretraining help downstream?
#
#   experiments/multi-latency/run.sh [--out DIR] [--jobs 2] [--seeds "1 2 3"] [--pre-steps 800] [--ft-steps 500]
#
# Data and recipe are experiments/low-resource's: corpus (experiments/common/corpus.sh, 60 min unlabelled, 10 min
# labelled, dev = unseen sentences of the held-in voices), a 4-layer d=96 FastConformer with 4x subsampling (40 ms
# frames), chunked_limited attention with unlimited left context, character CTC for 500 steps at batch 8 (Noam, peak
# at step 200). Look-aheads 0, 80 and 320 ms = right context 0, 2 and 8 frames (chunks of 1, 3 and 9 frames).
#   - dedicated rows: one model per look-ahead (att_context_size [-1,R]), from scratch;
#   - multi row: one model, att_chunk_sizes [1,3,9] (a pair drawn per batch, uniformly), from scratch, same steps;
#   - masking rows: NEST pretraining (800 steps, multi-latency encoder) with NeMo's single block size (40 frames,
#     mask_prob 0.01) or multi-scale blocks (10, 20 and 40 frames, uniform, mask_prob 0.0171 so that the expected
#     masked share matches), then the multi-latency fine-tuning from each.
# Every fine-tuned model's final .nemo is scored on dev at each look-ahead it was trained for (streamnest eval
# --att-context-size; offline equals chunk-by-chunk streaming for these configurations, so this is the streaming WER).
# Needs a built streamnest (npm run build). Prints the table (results.md) and draws wer-latency.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/exp/multi-latency"; jobs=2; seeds="1 2 3"; pre_steps=800; ft_steps=500
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --pre-steps) pre_steps="$2"; shift 2 ;;
    --ft-steps) ft_steps="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
SN="${STREAMNEST:-node $root/dist/src/cli/main.js} --threads 1"
mkdir -p "$out/eval"; cd "$root"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$out/run.log"; }
C="$out/corpus"
log "corpus"
SN="$SN" "$root/experiments/common/corpus.sh" "$C" 90 10 | tee -a "$out/run.log"

arch="model.encoder.subsampling_factor=4 model.encoder.n_layers=4 model.encoder.d_model=96 model.encoder.n_heads=4 model.encoder.subsampling_conv_channels=96 model.train_ds.batch_size=8 model.validation_ds.batch_size=8"
multi="model.encoder.att_context_size=null model.encoder.att_context_style=chunked_limited +model.encoder.att_chunk_sizes=[1,3,9] +model.encoder.att_left_context=-1"
data="model.train_ds.manifest_filepath=$C/pretrain_manifest.json model.train_ds.noise_manifest=$C/noise_manifest.json model.validation_ds.manifest_filepath=$C/dev_manifest.json model.validation_ds.noise_manifest=$C/noise_manifest.json"
mask_single="model.masking.block_size=40 model.masking.mask_prob=0.01"
mask_multi="+model.masking.block_sizes=[10,20,40] model.masking.mask_prob=0.0171"
# the architecture for the from-scratch rows (2 steps: only its config is used)
if [ ! -f "$out/pretrain/arch/checkpoints/arch.nemo" ]; then
  $SN pretrain --quiet $arch $multi $data trainer.max_steps=2 trainer.val_check_interval=2 \
    exp_manager.exp_dir=$out/pretrain exp_manager.name=arch > "$out/pretrain-arch.log" 2>&1
fi

pretrain() { # name masking-variable
  local name=$1 mask=mask_$2 nemo="$out/pretrain/$1/checkpoints/$1.nemo"
  [ -f "$nemo" ] && return 0
  log "pretrain $name ($pre_steps steps)"
  $SN pretrain --quiet $arch $multi ${!mask} $data trainer.max_steps=$pre_steps trainer.val_check_interval=200 \
    exp_manager.exp_dir=$out/pretrain exp_manager.name=$name > "$out/pretrain-$name.log" 2>&1 || { log "FAILED pretrain $name"; return 1; }
}
finetune() { # row seed; rows: scratch-multi, scratch-r<R> (dedicated [-1,R]), pre-<name>-multi
  local row=$1 seed=$2 src flag="" ctx="" name="$1-s$2"
  case "$row" in
    scratch-multi) src="$out/pretrain/arch/checkpoints/arch.nemo"; flag="--from-scratch" ;;
    scratch-r*) src="$out/pretrain/arch/checkpoints/arch.nemo"; flag="--from-scratch"; ctx="model.encoder.att_context_size=[-1,${row#scratch-r}]" ;;
    pre-*-multi) local p="${row#pre-}"; p="${p%-multi}"; src="$out/pretrain/$p/checkpoints/$p.nemo" ;;
  esac
  local nemo="$out/finetune/$name/checkpoints/$name.nemo"
  if [ ! -f "$nemo" ]; then
    log "finetune $name ($ft_steps steps)"
    $SN finetune --quiet --init "$src" $flag --seed "$seed" $ctx trainer.max_steps=$ft_steps trainer.val_check_interval=50 \
      model.train_ds.batch_size=8 model.validation_ds.batch_size=8 model.optim.lr=0.5 model.optim.sched.warmup_steps=200 \
      model.train_ds.manifest_filepath=$C/labelled_manifest.json model.validation_ds.manifest_filepath=$C/dev_manifest.json \
      exp_manager.exp_dir=$out/finetune exp_manager.name=$name > "$out/finetune-$name.log" 2>&1 || { log "FAILED finetune $name"; return 1; }
  fi
  # dev WER at every look-ahead the model was trained for
  for r in 0 2 8; do
    [[ $row == scratch-r* && $row != "scratch-r$r" ]] && continue
    local rep="$out/eval/$name@$r.json"
    [ -f "$rep" ] && continue
    $SN eval --model "$nemo" --manifest "$C/dev_manifest.json" --att-context-size "-1,$r" --out "$rep" >> "$out/eval.log" 2>&1 || { log "FAILED eval $name @ $r"; return 1; }
  done
}
job() { set -- $1; "$@"; }
export -f pretrain finetune log job; export out SN arch multi data mask_single mask_multi pre_steps ft_steps C
JOBS=("pretrain single single" "pretrain multiscale multi")
for seed in $seeds; do for row in scratch-multi scratch-r0 scratch-r2 scratch-r8; do JOBS+=("finetune $row $seed"); done; done
for seed in $seeds; do for row in pre-single-multi pre-multiscale-multi; do JOBS+=("finetune $row $seed"); done; done
printf '%s\n' "${JOBS[@]}" | xargs -P "$jobs" -I{} bash -c 'job "$@"' _ {}
node "$here/report.mjs" "$out" "${STREAMNEST_DIST:-$root/dist}" | tee "$out/results.md"
log "done: $out/results.md, $out/wer-latency.png"
