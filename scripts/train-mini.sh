#!/usr/bin/env bash
# Trains the bundled mini model (models/pasd-mini, see its MODEL_CARD.md) from scratch with
# `pasd train`, then copies the final checkpoint into the package:
#   - autoencoder: the lossless PixelShuffleAutoencoder (factor 4, 48 latent channels; vae/
#     holds only its config.json, nothing to train),
#   - UNet with pixel-aware cross attention: trained whole (--trainable-modules .), from torch's
#     default initialisation, v-prediction (the scheduler config the model ships with),
#   - PASD ControlNet (from_unet) with a 3-stage degradation removal module (factor 4, to-RGB
#     heads at 1/2 and 1/4),
#   - text encoder: the 1-layer CLIP of models/pasd-mini, frozen (seeded random); every image
#     is captioned with the pipeline's default added prompt.
# Three phases: STEPS steps over all timesteps at lr 2e-4 (RUN/pasd); from its last checkpoint,
# STEPS2 steps on timesteps 900–999 only (RUN/pasd-t900; the one-step default samples at t = 999);
# from that, STEPS3 more at lr 5e-5 (RUN/pasd-t900-lr). Each phase starts a fresh AdamW.
# Resumable: run it again with the same RUN folder to continue from the newest checkpoints.
# Checkpoints stay in RUN (git-ignored scratch/).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-scratch/pasd-mini-run}
DATA=${DATA:-../shared/data/train}
STEPS=${STEPS:-2000}
STEPS2=${STEPS2:-800}
STEPS3=${STEPS3:-300}
THREADS=${THREADS:-2}
M=models/pasd-mini
mkdir -p "$RUN"

# Text conditioning is one constant prompt, given to every image as its caption (a mirror of
# DATA: links to the images plus NAME.txt files).
if [ ! -d "$RUN/data" ]; then
  (cd "$DATA" && find . -type f -name '*.png') | while read -r f; do
    mkdir -p "$RUN/data/$(dirname "$f")"
    ln -sf "$(realpath "$DATA/$f")" "$RUN/data/$f"
    printf 'clean, high-resolution, 8k' > "$RUN/data/${f%.png}.txt"
  done
fi

# Base: config-only UNet (random init), the pixel-shuffle VAE config, the frozen text encoder.
B="$RUN/base"
mkdir -p "$B/unet"
cp "$M/unet/config.json" "$B/unet/"
rm -rf "$B/vae" "$B/text_encoder" "$B/tokenizer" "$B/scheduler"
cp -r "$M/vae" "$M/text_encoder" "$M/tokenizer" "$M/scheduler" "$B/"
echo '{"conditioning_embedding_out_channels": [16, 32, 64]}' > "$RUN/controlnet-config.json"
node bin/pasd.js train --data "$RUN/data" --base "$B" --out "$RUN/pasd" --controlnet-config "$RUN/controlnet-config.json" \
  --resolution 128 --batch-size 4 --max-steps "$STEPS" --lr 2e-4 --lr-scheduler constant_with_warmup --warmup-steps 100 \
  --proportion-empty-prompts 0 --checkpoint-every 200 --keep 3 --trainable-modules . --threads "$THREADS" --seed 0 --resume

C1=$(ls -d "$RUN"/pasd/checkpoint-* | sort -t- -k2 -n | tail -1)
node bin/pasd.js train --data "$RUN/data" --base "$B" --init-from "$C1" --out "$RUN/pasd-t900" \
  --resolution 128 --batch-size 4 --max-steps "$STEPS2" --lr 2e-4 --lr-scheduler constant_with_warmup --warmup-steps 50 \
  --proportion-empty-prompts 0 --checkpoint-every 100 --keep 4 --trainable-modules . --timesteps 900,1000 --threads "$THREADS" --seed 1 --resume

C2=$(ls -d "$RUN"/pasd-t900/checkpoint-* | sort -t- -k2 -n | tail -1)
node bin/pasd.js train --data "$RUN/data" --base "$B" --init-from "$C2" --out "$RUN/pasd-t900-lr" \
  --resolution 128 --batch-size 4 --max-steps "$STEPS3" --lr 5e-5 --lr-scheduler constant_with_warmup --warmup-steps 20 \
  --proportion-empty-prompts 0 --checkpoint-every 100 --keep 3 --trainable-modules . --timesteps 900,1000 --threads "$THREADS" --seed 2 --resume

C=$(ls -d "$RUN"/pasd-t900-lr/checkpoint-* | sort -t- -k2 -n | tail -1)
for c in unet controlnet; do rm -rf "${M:?}/$c"; cp -r "$C/$c" "$M/$c"; done
node --import tsx scripts/half-weights.ts "$M"/unet/*.safetensors "$M"/controlnet/*.safetensors
echo "models/pasd-mini updated from $C"
