#!/usr/bin/env bash
# Streaming diarization experiment (issue #23): the arrival-ordered streaming diarizer (finetune-diar) on the NEST
# encoders of the low-resource experiment, pretrained against from scratch (the same architecture, random weights),
# causal ([-1,0]) and look-ahead ([-1,4] chunked_limited) encoders, and the loss ablation (ATS + PIL against PIL only);
# DER offline and streamed on sessions of voices never seen in pretraining or diarizer training.
#
#   experiments/diarization/run.sh [--out DIR] [--pretrained DIR] [--corpus DIR] [--jobs 2] [--steps 400] [--seeds "1 2"] [--lookahead-seeds "1"] [--pil]
#   --pretrained: the low-resource experiment's output (its pretrain/<row>/checkpoints/<row>.nemo; default exp/low-resource)
#   --corpus: its corpus (experiments/common/corpus.sh; default <pretrained>/corpus)
#
# Sessions (make-diarization-corpus): training = 600 sessions of 12 s from the held-in voices' training clips
# (pretrain_manifest.json); validation = 30 sessions of 20 s from the held-in voices' validation clips; test = 40
# sessions of 20 s (2-3 speakers) from the held-out voices (en-gb-scotland, en-gb-scotland+m2, en-029+f1), all their
# clips. Needs a built streamnest (npm run build). Prints the table (results.md) and draws session.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/exp/diarization"; pre="$root/exp/low-resource"; corpus=''; jobs=2; steps=400; seeds="1 2"; la_seeds="1"; pil=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --pretrained) pre="$2"; shift 2 ;;
    --corpus) corpus="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --lookahead-seeds) la_seeds="$2"; shift 2 ;;
    --pil) pil=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
C="${corpus:-$pre/corpus}"
SN="${STREAMNEST:-node $root/dist/src/cli/main.js} --threads 1"
mkdir -p "$out"; cd "$root"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$out/run.log"; }
held=en-gb-scotland,en-gb-scotland+m2,en-029+f1
sessions() { # name manifest... -- options
  local name=$1; shift
  [ -f "$out/sessions/$name/diarization_manifest.json" ] && return 0
  log "sessions: $name"
  $SN make-diarization-corpus --out "$out/sessions/$name" "$@" > "$out/sessions-$name.log" 2>&1
}
sessions train --manifest "$C/pretrain_manifest.json" --sessions 600 --session-seconds 12 --max-speakers 3 --seed 1
sessions val --manifest "$C/dev_manifest.json" --sessions 30 --session-seconds 20 --max-speakers 3 --seed 2
sessions test --manifest "$C/train_manifest.json" --manifest "$C/test_manifest.json" --speakers "$held" \
  --sessions 40 --session-seconds 20 --max-speakers 3 --seed 3

# rows: name pretrained-row init(pretrained|scratch) ats_weight pil_weight
ROWS=(
  "causal-pretrained causal-short_blocks pretrained 0.5 0.5"
  "causal-scratch causal-short_blocks scratch 0.5 0.5"
  "lookahead-pretrained lookahead-short_blocks pretrained 0.5 0.5"
  "lookahead-scratch lookahead-short_blocks scratch 0.5 0.5"
  "causal-pretrained-pil causal-short_blocks pretrained 0 1"
)
train() { # "row seed"
  set -- $1; local seed=$2 row
  row=$(grep -E "^$1 " <<< "$ROWS_TEXT"); set -- $row
  local name="$1-s$seed" src="$pre/pretrain/$2/checkpoints/$2.nemo" flag=""
  [ "$3" = scratch ] && flag=--from-scratch
  local dir="$out/runs/$name"
  if ! grep -qs "finetune-diar: $steps steps (max_steps)" "$out/train-$name.log"; then # not finished (a stopped run, or one with fewer steps, resumes from its last checkpoint)
    log "train $name ($steps steps)"
    $SN finetune-diar --quiet --init "$src" $flag --seed "$seed" --manifest "$out/sessions/train/diarization_manifest.json" \
      --val-manifest "$out/sessions/val/diarization_manifest.json" --max-steps "$steps" --val-check-interval 100 \
      --lr 1e-3 --warmup-steps 50 --batch-size 4 --ats-weight "$4" --pil-weight "$5" \
      --exp-dir "$out/runs" --name "$name" > "$out/train-$name.log" 2>&1 || { log "FAILED train $name"; return 1; }
    rm -rf "$dir"/der-*.json "$dir/rttm" # scores of an earlier, shorter run
  fi
  local m="$dir/checkpoints/$name.nemo" t="$out/sessions/test/diarization_manifest.json"
  [ -f "$dir/der-offline.json" ] || $SN eval-diar --manifest "$t" --model "$m" --json > "$dir/der-offline.json"
  [ -f "$dir/der-streaming.json" ] || $SN eval-diar --manifest "$t" --model "$m" --streaming --json --out-rttm "$dir/rttm" > "$dir/der-streaming.json"
  [ -f "$dir/der-streaming-nocollar.json" ] || $SN eval-diar --manifest "$t" --hyp "$dir/rttm" --collar 0 --json > "$dir/der-streaming-nocollar.json"
}
export -f train log; export out SN pre steps
export ROWS_TEXT="$(printf '%s\n' "${ROWS[@]}")"
JOBS=()
for seed in $seeds; do
  for r in causal-pretrained causal-scratch; do JOBS+=("$r $seed"); done
  if [[ " $la_seeds " == *" $seed "* ]]; then for r in lookahead-pretrained lookahead-scratch; do JOBS+=("$r $seed"); done; fi
done
if [ "$pil" = 1 ]; then JOBS+=("causal-pretrained-pil 1"); fi # the loss ablation (PIL only)
printf '%s\n' "${JOBS[@]}" | xargs -P "$jobs" -I{} bash -c 'train "$@"' _ {}
# one test session drawn: the first seed's streamed causal pretrained diarizer against the reference
s="$out/sessions/test"; m="$out/runs/causal-pretrained-s1/checkpoints/causal-pretrained-s1.nemo"
[ -f "$m" ] && $SN diarize --model "$m" --audio "$s/audio/session_00001.wav" --ref "$s/rttm/session_00001.rttm" --streaming \
  --rttm "$out/session_00001.rttm" --plot "$out/session.png" > "$out/session.txt"
node "$here/report.mjs" "$out" | tee "$out/results.md"
log "done: $out/results.md, $out/session.png"
