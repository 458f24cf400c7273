#!/usr/bin/env bash
# Transducer rows of the low-resource experiment (issue #19, item 5): RNN-T fine-tuning (configs/rnnt_tiny.yaml: LSTM
# prediction network, joint, RNN-T loss, greedy decoding) of the causal encoder, from a NEST-pretrained encoder and
# from scratch, with the CTC rows' recipe (labelled 10 min, 500 steps at batch 8, Noam peak at step 200, seeds 1-2),
# then dev WER offline and streaming (320 ms chunks) with eval, which also reports the per-chunk compute.
#
#   experiments/low-resource/transducer.sh --out DIR --pretrained ROW [--jobs 2] [--seeds "1 2"]
#   ROW: a pretraining row of run.sh in DIR (e.g. causal-short_blocks); DIR must hold run.sh's corpus and that row.
# Prints a table (transducer-results.md in DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out=""; row=""; jobs=2; seeds="1 2"; ft_steps=500
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --pretrained) row="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --ft-steps) ft_steps="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] && [ -n "$row" ] || { echo "usage: transducer.sh --out DIR --pretrained ROW" >&2; exit 2; }
SN="${STREAMNEST:-node $root/dist/src/cli/main.js} --threads 1"
C="$out/corpus"
nemo="$out/pretrain/$row/checkpoints/$row.nemo"
[ -f "$nemo" ] || { echo "no pretrained model $nemo" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$out/transducer.log"; }
run() { # init seed
  set -- $1; local init=$1 seed=$2 flag=""
  [ "$init" = scratch ] && flag="--from-scratch"
  local name="rnnt-$init-s$seed" dir="$out/transducer/rnnt-$init-s$seed"
  if [ ! -f "$dir/checkpoints/$name.nemo" ]; then
    log "finetune $name ($ft_steps steps)"
    $SN finetune --quiet --config rnnt_tiny --init "$nemo" $flag --seed "$seed" trainer.max_steps=$ft_steps trainer.val_check_interval=50 \
      model.train_ds.batch_size=8 model.validation_ds.batch_size=8 model.optim.lr=0.5 model.optim.sched.warmup_steps=200 \
      model.train_ds.manifest_filepath=$C/labelled_manifest.json model.validation_ds.manifest_filepath=$C/dev_manifest.json \
      exp_manager.exp_dir=$out/transducer exp_manager.name=$name > "$out/transducer-$name.log" 2>&1 || { log "FAILED $name"; return 1; }
  fi
  for mode in offline streaming; do
    local rep="$dir/eval-$mode.json"
    [ -f "$rep" ] && continue
    local s=""; [ $mode = streaming ] && s="--streaming --chunk-size 0.32"
    $SN eval --model "$dir/checkpoints/$name.nemo" --manifest $C/dev_manifest.json $s --out "$rep" > /dev/null 2>> "$out/transducer-$name.log" || log "FAILED eval $name $mode"
  done
}
export -f run log; export out SN nemo C ft_steps
for s in $seeds; do echo "$row $s"; echo "scratch $s"; done | xargs -P "$jobs" -I{} bash -c 'run "$@"' _ {}
node "$here/transducer-report.mjs" "$out" "$row" | tee "$out/transducer-results.md"
