#!/usr/bin/env bash
# Trains the bundled mini model (models/pasd-mini, see its MODEL_CARD.md) from scratch:
#   1. the small AutoencoderKL: the analytic near-linear one of scripts/mini-vae-init.ts
#      (8×8 box average / nearest ×8), written by scripts/train-mini-vae.ts with 0 training
#      steps (the model card says why it is not trained further),
#   2. PASD (ControlNet with the degradation removal module + the UNet's pixel attention)
#      with `pasd train` on Real-ESRGAN-degraded crops, the UNet backbone and the 1-layer
#      CLIP text encoder frozen at their random initialisation (train_pasd.py's trainable set):
#      EPS_STEPS steps with epsilon prediction, then v-prediction up to PASD_STEPS (as the
#      shipped model was trained; v-prediction is what the shipped scheduler config says),
#   3. copies the final weights into models/pasd-mini.
# Resumable: run it again with the same RUN folder and each stage continues from its newest
# checkpoint (a finished stage is skipped). Checkpoints stay in RUN (git-ignored scratch/).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-scratch/pasd-mini-run}
DATA=${DATA:-../shared/data/train}
VAE_STEPS=${VAE_STEPS:-0}
EPS_STEPS=${EPS_STEPS:-600}
PASD_STEPS=${PASD_STEPS:-1600}
THREADS=${THREADS:-2}
M=models/pasd-mini
mkdir -p "$RUN"

# Text conditioning is one constant prompt: the pipeline's default added prompt, given to
# every image as its caption (a mirror of DATA: links to the images plus NAME.txt files).
if [ ! -d "$RUN/data" ]; then
  (cd "$DATA" && find . -type f -name '*.png') | while read -r f; do
    mkdir -p "$RUN/data/$(dirname "$f")"
    ln -sf "$(realpath "$DATA/$f")" "$RUN/data/$f"
    printf 'clean, high-resolution, 8k' > "$RUN/data/${f%.png}.txt"
  done
fi

# 1. VAE (its scaling_factor is measured on 96² training crops).
node --import tsx scripts/train-mini-vae.ts --data "$DATA" --config "$M/vae/config.json" --out "$RUN/vae" --init linear \
  --steps "$VAE_STEPS" --batch 4 --crop 96 --lr 2e-4 --threads "$THREADS" --checkpoint-every 100 --resume
VAE_DIR=$(ls -d "$RUN"/vae/checkpoint-* | sort -t- -k2 -n | tail -1)/vae

# 2. PASD: base = trained VAE + config-only UNet and text encoder (random init, saved with each checkpoint).
B="$RUN/base"
mkdir -p "$B/unet" "$B/text_encoder"
cp "$M/unet/config.json" "$B/unet/"
cp "$M/text_encoder/config.json" "$B/text_encoder/"
rm -rf "$B/vae" && cp -r "$VAE_DIR" "$B/vae"
rm -rf "$B/tokenizer" "$B/scheduler" && cp -r "$M/tokenizer" "$M/scheduler" "$B/"
echo '{"conditioning_embedding_out_channels": [8, 16, 32, 64]}' > "$RUN/controlnet-config.json"
pasd_train() {
  node bin/pasd.js train --data "$RUN/data" --base "$B" --out "$RUN/pasd" --controlnet-config "$RUN/controlnet-config.json" \
    --resolution 128 --batch-size 4 --max-steps "$1" --lr 2e-4 --lr-scheduler constant_with_warmup --warmup-steps 50 \
    --proportion-empty-prompts 0 --checkpoint-every 100 --keep 2 --threads "$THREADS" --resume
}
sed 's/"v_prediction"/"epsilon"/' "$M/scheduler/scheduler_config.json" > "$B/scheduler/scheduler_config.json"
pasd_train "$EPS_STEPS"
cp "$M/scheduler/scheduler_config.json" "$B/scheduler/"
pasd_train "$PASD_STEPS"

# 3. The final checkpoint into the package.
C=$(ls -d "$RUN"/pasd/checkpoint-* | sort -t- -k2 -n | tail -1)
for c in unet controlnet text_encoder; do rm -rf "${M:?}/$c"; cp -r "$C/$c" "$M/$c"; done
rm -rf "${M:?}/vae" && cp -r "$VAE_DIR" "$M/vae"
echo "models/pasd-mini updated from $C"
