#!/usr/bin/env bash
# The corpus of the downstream experiments (low-resource, multi-latency): make-corpus --minutes MIN --seed 8
# (espeak-ng voices), split into pretrain (every training utterance of the held-in voices, unlabelled), labelled (the
# first LABELLED_MIN minutes of them), dev (the validation sentences of the held-in voices) and test (the held-out
# voices en-gb-scotland, en-gb-scotland+m2, en-029+f1; not used by the experiments).
#   experiments/common/corpus.sh DIR MINUTES LABELLED_MIN   (needs $SN, the streamnest command)
set -euo pipefail
C="$1"; minutes="$2"; labelled_min="$3"
if [ ! -f "$C/train_manifest.json" ]; then
  $SN make-corpus --out "$C" --minutes "$minutes" --seed 8 > "$C.log" 2>&1
fi
node -e '
const fs = require("fs"); const [dir, mins] = [process.argv[1], Number(process.argv[2])];
const held = new Set(["en-gb-scotland", "en-gb-scotland+m2", "en-029+f1"]);
const read = (f) => fs.readFileSync(`${dir}/${f}`, "utf8").split("\n").filter(Boolean).map(JSON.parse);
const w = (f, rows) => fs.writeFileSync(`${dir}/${f}`, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
const train = read("train_manifest.json").filter((r) => !held.has(r.speaker));
let acc = 0; const lab = train.filter((r) => (acc += r.duration) <= mins * 60);
w("pretrain_manifest.json", train); w("labelled_manifest.json", lab);
w("dev_manifest.json", read("val_manifest.json").filter((r) => !held.has(r.speaker)));
w("test_manifest.json", read("val_manifest.json").filter((r) => held.has(r.speaker)));
const h = (rows) => (rows.reduce((s, r) => s + r.duration, 0) / 60).toFixed(1);
console.log(`pretrain ${train.length} utts ${h(train)} min (unlabelled); labelled ${lab.length} utts ${h(lab)} min`);
' "$C" "$labelled_min"
