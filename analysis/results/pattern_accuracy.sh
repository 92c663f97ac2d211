#!/usr/bin/env bash
# The exact commands that made pattern_accuracy/accuracy.json (run from the repository root; WORK holds the data).
# Measured on 2 cores of an AMD EPYC shared with other jobs, every step under `nice -n 10`.
set -euo pipefail
WORK=${WORK:-/tmp/acc}
E="nice -n 10 emphysema"

make_set () {  # folder, first seed: 4 patterns x mild/moderate/severe, then 3 NT studies
  local i=0
  mkdir -p "$1"
  for pattern in CLE PSE PLE CLE+PSE; do
    for severity in mild moderate severe; do
      $E synth-study --out "$1/part$i" --studies 1 --size medium --pattern $pattern \
        --severity $severity --seed $(($2 + i)) --quiet
      mv "$1/part$i/study-000" "$1/${pattern/+/_}-$severity"; rm -rf "$1/part$i"
      i=$((i + 1))
    done
  done
  for n in 1 2 3; do
    $E synth-study --out "$1/part$i" --studies 1 --size medium --pattern NT --seed $(($2 + i)) --quiet
    mv "$1/part$i/study-000" "$1/NT-$n"; rm -rf "$1/part$i"
    i=$((i + 1))
  done
}

make_set "$WORK/train" 100
# Moderate CLE studies give no CLE ROIs (under 10 % emphysema in any region): more severe studies,
# so that CLE has patients in both the training and the validation part.
i=0
for spec in CLE:severe CLE:severe CLE:severe CLE+PSE:severe PSE:severe CLE:moderate; do
  pattern=${spec%%:*} severity=${spec##*:}
  $E synth-study --out "$WORK/train/part$i" --studies 1 --size medium --pattern $pattern \
    --severity $severity --seed $((300 + i)) --quiet
  mv "$WORK/train/part$i/study-000" "$WORK/train/${pattern/+/_}-$severity-x$i"; rm -rf "$WORK/train/part$i"
  i=$((i + 1))
done
make_set "$WORK/heldout" 500   # never trained on: patient = study

for mm in 24 32 40 56; do
  # The same stride for every size, so each model learns from about as many ROI centres.
  $E roi-dataset "$WORK/train" --out "$WORK/rois$mm" --roi-mm $mm --stride-mm 32 --quiet
  # --test-fraction 0: a third part needs 3 patients per class and CLE has 2; the held-out
  # studies below are the test.
  $E train --data "$WORK/rois$mm" --architecture simple_cnn --out "$WORK/run$mm" --quick \
    --image-size 64 --test-fraction 0 --quiet
  $E export --run "$WORK/run$mm" --repository "$WORK/repo" --model roi$mm
done

$E serve --repository "$WORK/repo" --grpc-port 18101 --http-port 18100 --metrics-port 18102 \
  --supervisor-port 0 &
SERVE=$!
until curl -sf localhost:18100/v2/health/ready; do sleep 2; done
$E analysis-eval "$WORK/heldout" --out analysis/results/pattern_accuracy --overwrite \
  --url 127.0.0.1:18101 --model roi24 roi32 roi40 roi56 --stride-mm 20 --slice-step 4 --quiet
kill $SERVE
