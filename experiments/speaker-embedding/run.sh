#!/usr/bin/env bash
# Speaker embeddings of a pretrained causal NEST encoder (issue #23): speaker-verification EER on voices never seen in
# pretraining or embedding training, for the pooled statistics of the pretrained encoder, the same with a trained
# embedding layer (finetune-embed: NeMo's SpeakerDecoder + angular softmax on a frozen encoder), and the pooled
# statistics of a randomly initialised encoder of the same architecture (the from-scratch anchor; its trained
# embedding layer is reported too).
#
#   experiments/speaker-embedding/run.sh [--corpus DIR] [--init MODEL.nemo] [--out DIR] [--steps N] [--seed S]
#
# Corpus: the low-resource corpus (experiments/common/corpus.sh); training = train_manifest.json minus the held-out
# voices (en-gb-scotland, en-gb-scotland+m2, en-029+f1), validation = val_manifest.json minus them, test =
# test_manifest.json (the held-out voices only: all pairs of its utterances are the trials).
# Needs a built streamnest (npx tsc -p .). Prints a markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus=/work/exp/lr-corpus
init=/work/exp/lr-short/pretrain/causal-short_blocks/checkpoints/causal-short_blocks.nemo
out="$root/exp/speaker-embedding"; steps=1000; seed=1234
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus="$2"; shift 2 ;;
    --init) init="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
SN="${STREAMNEST:-nice node $root/dist/src/cli/main.js} --threads 1"
mkdir -p "$out"
HELD_OUT='en-gb-scotland,en-gb-scotland+m2,en-029+f1'
# manifest minus the held-out voices, audio paths made absolute (the filtered copy lives elsewhere)
heldin() {
  node -e '
    const fs = require("fs"), path = require("path");
    const [src, dst, out] = process.argv.slice(1);
    const drop = new Set(out.split(","));
    const lines = fs.readFileSync(src, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l))
      .filter((o) => !drop.has(o.speaker)).map((o) => JSON.stringify({ ...o, audio_filepath: path.resolve(path.dirname(src), o.audio_filepath) }));
    fs.writeFileSync(dst, lines.join("\n") + "\n");
  ' "$1" "$2" "$HELD_OUT"
}
heldin "$corpus/train_manifest.json" "$out/train_heldin.json"
heldin "$corpus/val_manifest.json" "$out/val_heldin.json"
test="$corpus/test_manifest.json"

train() { # name extra-args...
  local name="$1"; shift
  [ -f "$out/$name/checkpoints/$name.nemo" ] || $SN finetune-embed --init "$init" --manifest "$out/train_heldin.json" \
    --val-manifest "$out/val_heldin.json" --emb-dim 128 --max-steps "$steps" --val-check-interval 100 --exp-dir "$out" \
    --name "$name" --seed "$seed" --quiet "$@" >&2
}
train pretrained
train scratch --from-scratch
P="$out/pretrained/checkpoints/pretrained.nemo"
S="$out/scratch/checkpoints/scratch.nemo"

row() { # label model extra-args...
  local label="$1" model="$2"; shift 2
  local j; j=$($SN eval-embed --model "$model" --manifest "$test" --json "$@")
  node -e 'const r = JSON.parse(process.argv[2]); console.log(`| ${process.argv[1]} | ${r.embedding} | ${(100 * r.eer).toFixed(2)} | ${r.trials} (${r.target_trials} / ${r.nontarget_trials}) |`)' "$label" "$j"
}
echo "| encoder | embedding | test EER % (held-out voices) | trials (target / non-target) |"
echo "| --- | --- | ---: | ---: |"
row "pretrained causal NEST" "$init"
row "pretrained causal NEST" "$P"
row "random init (same architecture)" "$S" --no-projection
row "random init (same architecture)" "$S"
