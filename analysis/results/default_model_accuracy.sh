#!/usr/bin/env bash
# The exact commands that made default_model_accuracy/accuracy.json: the default ROI model
# (32 mm, chosen by pattern_accuracy.sh) trained on more studies, each shifted to the default
# density reference, with kernel noise and small density shifts, then judged at analyze's own
# defaults (10 mm cells, every 2nd lung slice). Run from the repository root; WORK holds the data.
# Measured on 2 cores of an AMD EPYC (AVX2, no VNNI): the studies took 16 minutes, the ROIs 3,
# the training 36 (the 12 epochs), the evaluation 2.
set -euo pipefail
WORK=${WORK:-/tmp/acc3}
E="emphysema"

batch () {  # count pattern severity seed: COUNT studies of one pattern and severity into $FOLDER
  local name="${2/+/_}-${3:-none}-$4"
  $E synth-study --out "$WORK/tmp-$name" --studies "$1" --size medium --pattern "$2" \
    ${3:+--severity $3} --seed "$4" --quiet
  for study in "$WORK/tmp-$name"/study-*; do mv "$study" "$WORK/$FOLDER/$name-${study##*-}"; done
  rm -rf "$WORK/tmp-$name"
}

# 138 training studies: twice 5 per pattern and severity (PLE had 3 patients in
# pattern_accuracy.sh), 8 + 5 NT, and 5 more severe CLE (moderate CLE studies give almost no
# CLE ROI). Patients differ in kernel, noise and normal-lung density: more of them is more of
# that variety.
for first_seed in 1000 2000; do
  FOLDER=$([ $first_seed = 1000 ] && echo train || echo train2)
  mkdir -p "$WORK/$FOLDER"
  seed=$first_seed
  for pattern in CLE PSE PLE CLE+PSE; do
    for severity in mild moderate severe; do
      batch 5 $pattern $severity $seed
      seed=$((seed + 1))
    done
  done
  if [ $first_seed = 1000 ]; then
    batch 8 NT "" $seed
    batch 5 CLE severe $((seed + 1))
  else
    batch 5 NT "" $seed
  fi
done

# 30 held-out studies, never trained on (patient = study): the 15 of pattern_accuracy.sh (seeds
# 500-514) and 15 more of the same kinds (seeds 600-614), made after the recipe above was chosen
# on the first 15.
mkdir -p "$WORK/heldout"
for first in 500 600; do
  i=0
  for spec in CLE:mild CLE:moderate CLE:severe PSE:mild PSE:moderate PSE:severe PLE:mild \
    PLE:moderate PLE:severe CLE+PSE:mild CLE+PSE:moderate CLE+PSE:severe NT:1 NT:2 NT:3; do
    pattern=${spec%%:*} severity=${spec##*:}
    $E synth-study --out "$WORK/heldout/part$i" --studies 1 --size medium --pattern "$pattern" \
      $([ "$pattern" = NT ] || echo --severity "$severity") --seed $((first + i)) --quiet
    mv "$WORK/heldout/part$i/study-000" "$WORK/heldout/${pattern/+/_}-$severity-$first"
    rm -rf "$WORK/heldout/part$i"
    i=$((i + 1))
  done
done

# Each study shifted so its brightest lung zone's upper quartile is -815 HU (the default
# --density-reference-hu); the model carries the reference and analyze shifts each study alike.
$E roi-dataset "$WORK/train" "$WORK/train2" --out "$WORK/rois32" --roi-mm 32 --stride-mm 32 --quiet
# --test-fraction 0: the held-out studies are the test; 15 % of each class's patients pick the
# epoch. --noise-hu 40: kernel noise, so the noise level is no cue; --density-shift-hu 10: each
# ROI's density moved by up to 10 HU, the spread the reference leaves between patients;
# --patience 12 = --epochs: its validation accuracy (--quick's monitor) swings from epoch to
# epoch, and early stopping would end the run on a swing (the weights kept were the 9th epoch's).
$E train --data "$WORK/rois32" --architecture simple_cnn --out "$WORK/run32" --quick \
  --image-size 64 --test-fraction 0 --epochs 12 --patience 12 --noise-hu 40 --density-shift-hu 10 --quiet
$E export --run "$WORK/run32" --repository "$WORK/repo" --model roi32

$E serve --repository "$WORK/repo" --grpc-port 18101 --http-port 18100 --metrics-port 18102 \
  --supervisor-port 0 &
SERVE=$!
until curl -sf localhost:18100/v2/health/ready; do sleep 2; done
$E analysis-eval "$WORK/heldout" --out analysis/results/default_model_accuracy --overwrite \
  --url 127.0.0.1:18101 --model roi32 --quiet
kill $SERVE
