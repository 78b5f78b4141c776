#!/bin/sh
# Rebuilds every committed bundle, then checks them with onnxruntime-node when node_modules is
# installed. Needs only Debian's python3-torch / python3-onnx.
#   - the shipped vlad-base-flow (flow matching, 10 steps, energy head, LoRA, loss/train_step) and
#     the one-step L1-regression comparison vlad-base-l1, from the committed trained weights
#     models/weights/vlad-base.pt (MODEL_CARD.md)
#   - the three tiny runtime-test bundles from their presets (seed 0, random init)
# created_at is pinned (SOURCE_DATE_EPOCH) so a rebuild reproduces the committed bundles byte for byte.
set -eu
# The goldens are bit-exact only with Debian's default BLAS: the pthread OpenBLAS that training
# uses (LD_LIBRARY_PATH=.../openblas-pthread) rounds some sums differently.
unset LD_LIBRARY_PATH
cd "$(dirname "$0")/../.."
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1795305600}"  # 2026-11-22T00:00:00Z
SEED="${SEED:-0}"
for preset in tiny-flow-quantile tiny-ddim tiny-l1; do
  /usr/bin/python3 models/toolchain/build_bundle.py --preset "$preset" --seed "$SEED" \
    --out "models/bundles/vlad-$preset"
done
# vlad-base-flow 1.6.0 / vlad-base-l1 1.5.0: stage 15 weights (grasp-phase sampling x8 on stage 14); flow sampled at noise_scale 0.25.
for kv in flow:1.6.0 l1:1.5.0; do
  kind="${kv%%:*}"
  /usr/bin/python3 models/toolchain/build_bundle.py --preset "kp-$kind" --weights models/weights/vlad-base.pt \
    --name "vlad-base-$kind" --version "${kv#*:}" --out "models/bundles/vlad-base-$kind"
done
if [ -d node_modules/onnxruntime-node ]; then
  node models/toolchain/check_ort.mjs models/bundles/vlad-tiny-flow-quantile models/bundles/vlad-tiny-ddim \
    models/bundles/vlad-tiny-l1 models/bundles/vlad-base-flow models/bundles/vlad-base-l1
else
  echo "node_modules missing: skipped the onnxruntime-node check (npm ci, then node models/toolchain/check_ort.mjs ...)"
fi
