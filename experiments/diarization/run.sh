#!/usr/bin/env bash
# Streaming diarization experiment (issue #23): the arrival-ordered streaming diarizer (finetune-diar) on the NEST
# encoders of the low-resource experiment, pretrained against from scratch (the same architecture, random weights),
# causal ([-1,0]) and look-ahead ([-1,4] chunked_limited) encoders, and the loss ablation (ATS + PIL against PIL only);
# DER offline and streamed on sessions of voices never seen in pretraining or diarizer training.
#
#   experiments/diarization/run.sh [--out DIR] [--pretrained DIR] [--corpus DIR] [--jobs 2] [--steps 400] [--seeds "1 2"] [--lookahead-seeds "1"] [--pil] [--only REGEX]
#   --pretrained: the low-resource experiment's output (its pretrain/<row>/checkpoints/<row>.nemo; default exp/low-resource)
#   --corpus: its corpus (experiments/common/corpus.sh; default <pretrained>/corpus)
#   --only: run just the jobs ("<row> <seed>") that match, e.g. 'causal-.* [12]|lookahead-pretrained 1'
#
# Sessions (make-diarization-corpus): training = 600 sessions of 12 s from the held-in voices' training clips
# (pretrain_manifest.json); validation = 30 sessions of 20 s from the held-in voices' validation clips; test = 40
# sessions of 20 s (2-3 speakers) from the held-out voices (en-gb-scotland, en-gb-scotland+m2, en-029+f1), all their
# clips. Needs a built streamnest (npm run build). Prints the table (results.md) and draws session.png.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/exp/diarization"; pre="$root/exp/low-resource"; corpus=''; jobs=2; steps=400; seeds="1 2"; la_seeds="1"; pil=0; only=''
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
    --only) only="$2"; shift 2 ;;
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
    rm -rf "$dir"/der-*.json "$dir"/rttm* "$dir"/*threshold*.txt # scores of an earlier, shorter run
  fi
  score "$dir" "$dir/checkpoints/$name.nemo"
}
# Test DER at NeMo's default activity threshold 0.5 and at the threshold (of 0.3-0.5) with the lowest DER on the
# validation sessions; offline and streamed, collar 0.25 s, and streamed without a collar.
score() { # run-dir model
  local dir=$1 m=$2 t="$out/sessions/test/diarization_manifest.json" v="$out/sessions/val/diarization_manifest.json"
  if [ ! -s "$dir/threshold.txt" ]; then
    for th in 0.3 0.35 0.4 0.45 0.5; do
      echo "$th $($SN eval-diar --manifest "$v" --model "$m" --threshold "$th" --json | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s).total.der))')"
    done > "$dir/val-thresholds.txt"
    sort -k2 -g "$dir/val-thresholds.txt" | head -n1 | cut -d' ' -f1 > "$dir/threshold.txt"
  fi
  local tuned; tuned=$(cat "$dir/threshold.txt")
  for th in 0.5 "$tuned"; do
    local tag; [ "$th" = 0.5 ] && tag="" || tag="-tuned"
    [ -s "$dir/der-offline$tag.json" ] || $SN eval-diar --manifest "$t" --model "$m" --threshold "$th" --json > "$dir/der-offline$tag.json"
    [ -s "$dir/der-streaming$tag.json" ] || $SN eval-diar --manifest "$t" --model "$m" --threshold "$th" --streaming --json --out-rttm "$dir/rttm$tag" > "$dir/der-streaming$tag.json"
    [ -s "$dir/der-streaming$tag-nocollar.json" ] || $SN eval-diar --manifest "$t" --hyp "$dir/rttm$tag" --collar 0 --json > "$dir/der-streaming$tag-nocollar.json"
  done
}
export -f train score log; export out SN pre steps
export ROWS_TEXT="$(printf '%s\n' "${ROWS[@]}")"
JOBS=()
for seed in $seeds; do
  for r in causal-pretrained causal-scratch; do JOBS+=("$r $seed"); done
  if [[ " $la_seeds " == *" $seed "* ]]; then for r in lookahead-pretrained lookahead-scratch; do JOBS+=("$r $seed"); done; fi
done
if [ "$pil" = 1 ]; then JOBS+=("causal-pretrained-pil 1"); fi # the loss ablation (PIL only)
pick() { if [ -n "$only" ]; then grep -E -- "^($only)$" || true; else cat; fi; }
printf '%s\n' "${JOBS[@]}" | pick | xargs -P "$jobs" -I{} bash -c 'train "$@"' _ {}
# one test session drawn: the first seed's streamed causal pretrained diarizer against the reference
s="$out/sessions/test"; m="$out/runs/causal-pretrained-s1/checkpoints/causal-pretrained-s1.nemo"
[ -f "$m" ] && $SN diarize --model "$m" --audio "$s/audio/session_00001.wav" --ref "$s/rttm/session_00001.rttm" --streaming \
  --threshold "$(cat "$out/runs/causal-pretrained-s1/threshold.txt")" \
  --rttm "$out/session_00001.rttm" --plot "$out/session.png" > "$out/session.txt"
node "$here/report.mjs" "$out" | tee "$out/results.md"
log "done: $out/results.md, $out/session.png"
