#!/usr/bin/env bash
# Speaker embeddings of a pretrained causal NEST encoder (issue #23): speaker-verification EER on voices never seen in
# pretraining or embedding training, for the pooled statistics of the pretrained encoder, the same with a trained
# embedding layer (finetune-embed: NeMo's SpeakerDecoder + angular softmax on a frozen encoder), and the pooled
# statistics of a randomly initialised encoder of the same architecture (the from-scratch anchor; its trained
# embedding layer is reported too).
#
#   experiments/speaker-embedding/run.sh [--corpus DIR] [--init MODEL.nemo] [--out DIR] [--steps N] [--seeds "1 2"]
#   defaults: the low-resource experiment's corpus and its causal short-block NEST encoder (experiments/low-resource)
#
# Corpus: the low-resource corpus (experiments/common/corpus.sh); training = train_manifest.json minus the held-out
# voices (en-gb-scotland, en-gb-scotland+m2, en-029+f1), validation = val_manifest.json minus them, test =
# test_manifest.json (the held-out voices only: all pairs of its utterances are the trials).
# Needs a built streamnest (npx tsc -p .). Prints a markdown table.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
corpus="$root/exp/low-resource/corpus"
init="$root/exp/low-resource/pretrain/causal-short_blocks/checkpoints/causal-short_blocks.nemo"
out="$root/exp/speaker-embedding"; steps=1000; seeds="1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus="$2"; shift 2 ;;
    --init) init="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
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

train() { # name seed extra-args...
  local name="$1" seed="$2"; shift 2
  [ -f "$out/$name/checkpoints/$name.nemo" ] || $SN finetune-embed --init "$init" --manifest "$out/train_heldin.json" \
    --val-manifest "$out/val_heldin.json" --emb-dim 128 --max-steps "$steps" --val-check-interval 100 --exp-dir "$out" \
    --name "$name" --seed "$seed" --quiet "$@" >&2
}
eer() { $SN eval-embed --model "$1" --manifest "$test" --json "${@:2}"; } # model extra-args... -> JSON
# one JSON line per (row, seed): the pooled statistics of the pretrained encoder do not depend on a seed
rows="$out/rows.jsonl"; : > "$rows"
echo "{\"row\":\"pretrained|pooled statistics\",\"r\":$(eer "$init")}" >> "$rows"
for seed in $seeds; do
  train "pretrained-s$seed" "$seed"
  train "scratch-s$seed" "$seed" --from-scratch
  P="$out/pretrained-s$seed/checkpoints/pretrained-s$seed.nemo"; S="$out/scratch-s$seed/checkpoints/scratch-s$seed.nemo"
  echo "{\"row\":\"pretrained|trained embedding layer\",\"r\":$(eer "$P")}" >> "$rows"
  echo "{\"row\":\"random init|pooled statistics\",\"r\":$(eer "$S" --no-projection)}" >> "$rows"
  echo "{\"row\":\"random init|trained embedding layer\",\"r\":$(eer "$S")}" >> "$rows"
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const std = (v) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1));
  console.log("| encoder | embedding | seeds | test EER % (held-out voices) | trials (target / non-target) |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const row of [...new Set(rows.map((x) => x.row))]) {
    const rs = rows.filter((x) => x.row === row); const e = rs.map((x) => 100 * x.r.eer); const r = rs[0].r;
    const [enc, emb] = row.split("|");
    const cell = e.length > 1 ? `${mean(e).toFixed(2)} ± ${std(e).toFixed(2)}` : e[0].toFixed(2);
    console.log(`| ${enc === "pretrained" ? "pretrained causal NEST" : "random init (same architecture)"} | ${emb} | ${e.length} | ${cell} | ${r.trials} (${r.target_trials} / ${r.nontarget_trials}) |`);
  }
' "$rows"
