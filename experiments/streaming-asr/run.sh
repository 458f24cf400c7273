#!/usr/bin/env bash
# Downstream streaming ASR experiment (issue #8): NEST pretraining in three attention configurations, character
# CTC fine-tuning on a labelled subset, offline and streaming WER, and the same models trained from scratch.
#
#   experiments/streaming-asr/run.sh [--scale small|medium|full|large] [--jobs 1|3] [--out DIR]
#
# small: ~12 min of espeak-ng speech, 2-layer d=64 encoder, 100 + 150 steps (about 20-25 min on 2 busy CPU cores;
#        a smoke test of the whole pipeline — far too little training for meaningful WERs)
# medium: the same corpus and model, 300 + 500 steps (about 15 min when the machine is quiet)
# full:  200 min of speech (2.2 h of training speech after the val split and the held-out voices, 1.1 h of it
#        labelled), 4-layer d=96 encoder, 600 pretraining + 1200 fine-tuning steps at batch 16 (the size chosen to fit
#        a few hours on 2 CPU cores; see README "Downstream ASR" for the measured time and how it scales)
# large: the same corpus, 8-layer d=176 encoder, 20k + 10k steps (days on 2 CPU cores; hours on one GPU)
# Test set: the corpus's validation sentences (disjoint from training sentences) spoken by held-out voices
# (en-gb-scotland, en-gb-scotland+m2, en-029+f1), which are removed from the training data.
# Needs a built streamnest (npm run build); STREAMNEST overrides the command (default: node dist/src/cli/main.js).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scale=small
out=""
jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
out="${out:-$root/exp/streaming-asr-$scale}"
SN="${STREAMNEST:-node $root/dist/src/cli/main.js}"
case "$scale" in
  small) minutes=12; labelled=1.0; pre_steps=100; ft_steps=150; val_every=50; batch=4
         arch="model.encoder.n_layers=2 model.encoder.d_model=64 model.encoder.n_heads=2" ;;
  medium) minutes=12; labelled=1.0; pre_steps=300; ft_steps=500; val_every=100; batch=4
         arch="model.encoder.n_layers=2 model.encoder.d_model=64 model.encoder.n_heads=2" ;;
  full)  minutes=200; labelled=0.5; pre_steps=600; ft_steps=1200; val_every=300; batch=16
         ft_optim="model.optim.lr=0.5 model.optim.sched.warmup_steps=200"
         arch="model.encoder.n_layers=4 model.encoder.d_model=96 model.encoder.n_heads=4 model.encoder.subsampling_conv_channels=96 model.encoder.conv_kernel_size=9" ;;
  large) minutes=200; labelled=0.5; pre_steps=20000; ft_steps=10000; val_every=1000; batch=16
         arch="model.encoder.n_layers=8 model.encoder.d_model=176 model.encoder.n_heads=4 model.encoder.subsampling_conv_channels=176 model.encoder.conv_kernel_size=9" ;;
  *) echo "--scale must be small, medium, full or large" >&2; exit 2 ;;
esac
ft_optim="${ft_optim:-}"
mkdir -p "$out"
cd "$root"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$out/run.log"; }

# 1. corpus, then the voice split: held-out voices only in the test set
if [ ! -f "$out/corpus/train_manifest.json" ]; then
  log "corpus: $minutes min"
  $SN make-corpus --out "$out/corpus" --minutes "$minutes" --seed 8 >> "$out/run.log" 2>&1
fi
node -e '
const fs = require("fs"); const [dir, frac] = [process.argv[1], Number(process.argv[2])];
const held = new Set(["en-gb-scotland", "en-gb-scotland+m2", "en-029+f1"]);
const read = (f) => fs.readFileSync(`${dir}/${f}`, "utf8").split("\n").filter(Boolean).map(JSON.parse);
const w = (f, rows) => fs.writeFileSync(`${dir}/${f}`, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
const train = read("train_manifest.json").filter((r) => !held.has(r.speaker));
const test = read("val_manifest.json").filter((r) => held.has(r.speaker));
const dev = read("val_manifest.json").filter((r) => !held.has(r.speaker));
w("pretrain_manifest.json", train);
w("labelled_manifest.json", train.slice(0, Math.max(1, Math.round(train.length * frac))));
w("dev_manifest.json", dev); w("test_manifest.json", test);
const h = (rows) => (rows.reduce((s, r) => s + r.duration, 0) / 3600).toFixed(3);
console.log(`pretrain ${train.length} utts ${h(train)} h; labelled ${Math.round(train.length * frac)}; dev ${dev.length} ${h(dev)} h; test ${test.length} ${h(test)} h (held-out voices)`);
' "$out/corpus" "$labelled" | tee -a "$out/run.log"
C="$out/corpus"

# 2. the three encoder configurations (8x subsampling leaves too few frames for characters: 4x, as NeMo's char models)
common="model.encoder.subsampling_factor=4 $arch model.train_ds.batch_size=$batch model.validation_ds.batch_size=$batch"
declare -A CFG
CFG[bidirectional]="streaming=false model.encoder.att_context_size=[-1,-1] model.encoder.causal_downsampling=false model.encoder.conv_context_size=null model.masking.causal=false"
CFG[lookahead]="model.encoder.att_context_size=[-1,4] model.encoder.att_context_style=chunked_limited"
CFG[causal]="model.encoder.att_context_size=[-1,0] model.encoder.att_context_style=regular"

train_config() { # pretrain, then fine-tune from NEST and from scratch (same architecture), for one configuration
  local name="$1" pre="$out/pretrain/$1/checkpoints/$1.nemo" init ft flag
  if [ ! -f "$pre" ]; then
    log "pretrain $name ($pre_steps steps)"
    $SN pretrain --quiet $threads ${CFG[$name]} $common trainer.max_steps=$pre_steps trainer.val_check_interval=$val_every \
      model.train_ds.manifest_filepath=$C/pretrain_manifest.json model.train_ds.noise_manifest=$C/noise_manifest.json \
      model.validation_ds.manifest_filepath=$C/dev_manifest.json model.validation_ds.noise_manifest=$C/noise_manifest.json \
      exp_manager.exp_dir=$out/pretrain exp_manager.name=$name >> "$out/$name.log" 2>&1
  fi
  for init in nest scratch; do
    ft="$out/finetune/$name-$init/checkpoints/$name-$init.nemo"
    if [ ! -f "$ft" ]; then
      log "finetune $name from $init ($ft_steps steps)"
      flag=""; [ "$init" = scratch ] && flag="--from-scratch"
      $SN finetune --quiet $threads --init "$pre" $flag trainer.max_steps=$ft_steps trainer.val_check_interval=$val_every \
        model.train_ds.batch_size=$batch model.validation_ds.batch_size=$batch $ft_optim \
        model.train_ds.manifest_filepath=$C/labelled_manifest.json model.validation_ds.manifest_filepath=$C/dev_manifest.json \
        exp_manager.exp_dir=$out/finetune exp_manager.name=$name-$init >> "$out/$name.log" 2>&1
    fi
  done
  log "trained $name"
}

# Training: the configurations one after another (--jobs 1) or side by side, one thread each (--jobs 3: small
# models use 2 cores better as 3 single-threaded processes than as one 2-threaded one).
threads=""; [ "$jobs" -gt 1 ] && threads="--threads 1"
pids=()
for name in bidirectional lookahead causal; do
  if [ "$jobs" -gt 1 ]; then train_config "$name" & pids+=($!); else train_config "$name"; fi
done
for p in "${pids[@]}"; do wait "$p" || { log "a training job failed (see $out/*.log)"; exit 1; }; done

# Evaluation, alone on the machine (the per-chunk latencies in the table are measured here).
for name in bidirectional lookahead causal; do
  for init in nest scratch; do
    ft="$out/finetune/$name-$init/checkpoints/$name-$init.nemo"
    log "eval $name-$init"
    $SN eval --model "$ft" --manifest $C/test_manifest.json --out "$out/eval-$name-$init-offline.json" | tee -a "$out/run.log"
    if [ "$name" != bidirectional ]; then
      $SN eval --model "$ft" --manifest $C/test_manifest.json --streaming --chunk-size 0.16 --out "$out/eval-$name-$init-streaming.json" | tee -a "$out/run.log"
    fi
  done
done

# 3. table + plot
node "$here/report.mjs" "$out" "${STREAMNEST_DIST:-$root/dist}" | tee "$out/table.md"
log "done: $out/table.md, $out/wer-curves.png"
