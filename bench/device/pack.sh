#!/usr/bin/env bash
# Prepares bench/device/pack/ (git-ignored) for bench/device/run.sh on the GPU machine, which
# has no Node.js and no network and receives the repository plus carried paths, 64 MiB in all
# (bench/device/README.md). Run here, from anywhere, once per change of the code:
#   bash bench/device/pack.sh
# The pack holds: this machine's node (stripped, xz), onnxruntime-node's linux-x64 binding and
# libonnxruntime with onnxruntime-common (xz), the parity runner, the bench, the whole SD1.5
# upscale and the report summary bundled by esbuild (sharp stubbed: no case carried reads image files), the Vulkan
# loader packages, a fixture subset (PASD_DEVICE_CASES) and SD1.5's configs and tokenizer.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACK=bench/device/pack
FIXTURES=${PASD_FIXTURES:-../shared/fixtures}
SD15=${PASD_SD15_DIR:-../shared/data/misc/stable-diffusion-v1-5}
# ControlNet + UNet in batch 1 and batch 2 (CFG), and the VAE: what fits beside the binaries.
CASES=${PASD_DEVICE_CASES:-pasd_b1_16x16 pasd_cfg_b2_16x16 vae_1x96x160}
LIMIT=$((64 * 1024 * 1024))

ORT=node_modules/onnxruntime-node
# node and onnxruntime change rarely and take minutes to compress: kept while their versions match.
BINARIES="node $(node --version), onnxruntime-node $(node -p "require('./$ORT/package.json').version")"
if [ "$(cat "$PACK/BINARIES" 2>/dev/null)" = "$BINARIES" ] && [ -s "$PACK/node.xz" ] && [ -s "$PACK/runtime.tar.xz" ]; then
  find "$PACK" -mindepth 1 -maxdepth 1 ! -name node.xz ! -name runtime.tar.xz ! -name BINARIES -exec rm -rf {} +
  REUSE=1
else
  rm -rf "$PACK"
  REUSE=0
fi
mkdir -p "$PACK/debs"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
xzc() { xz -T1 --x86 --lzma2=preset=9 -c; } # BCJ filter: smaller machine code

if [ $REUSE = 1 ]; then
  echo "$BINARIES: packed before, kept"
else
  echo "node $(node --version): stripping and compressing"
  strip -o "$STAGE/node" "$(readlink -f "$(command -v node)")"
  xzc <"$STAGE/node" >"$PACK/node.xz"

  echo "onnxruntime-node: linux-x64 binding only"
  mkdir -p "$STAGE/rt/node_modules/onnxruntime-node/bin/napi-v6/linux" "$STAGE/rt/node_modules/onnxruntime-common"
  cp -r "$ORT/package.json" "$ORT/dist" "$STAGE/rt/node_modules/onnxruntime-node/"
  cp -r "$ORT/bin/napi-v6/linux/x64" "$STAGE/rt/node_modules/onnxruntime-node/bin/napi-v6/linux/"
  cp -r node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist "$STAGE/rt/node_modules/onnxruntime-common/"
  tar -C "$STAGE/rt" -cf - node_modules | xzc >"$PACK/runtime.tar.xz"
  echo "$BINARIES" >"$PACK/BINARIES"
fi

echo "bundles: parity.mjs, bench.mjs, upscale.mjs, attention.mjs, summary.mjs"
# Bundled CommonJS dependencies (protobufjs) call require: give the ES module bundles one.
node_modules/.bin/esbuild parity=src/parity/main.ts bench=bench/run.ts upscale=bench/sd15-upscale.ts attention=bench/attention-memory.ts summary=bench/device/summary.ts \
  --bundle --platform=node --format=esm --target=node20 --outdir="$PACK" --out-extension:.js=.mjs \
  --external:onnxruntime-node --alias:sharp=./bench/device/no-sharp.ts --log-level=warning \
  --banner:js="import { createRequire as __pasdRequire } from 'node:module'; const require = __pasdRequire(import.meta.url);"

echo "Vulkan loader packages (as the device README lists them)"
DEBS="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
# A fresh machine may have no package lists yet: update once and retry.
(cd "$PACK/debs" && { apt-get download $DEBS >/dev/null 2>&1 || { apt-get update -qq && apt-get download $DEBS >/dev/null; }; })

echo "fixtures: $CASES"
node --import tsx bench/device/subset.ts "$FIXTURES" "$STAGE/fixtures" $CASES
tar -C "$STAGE" -cf - fixtures | xzc >"$PACK/fixtures.tar.xz"
# SD1.5's configs and tokenizer (the step and the whole upscale write random weights at these configs).
mkdir -p "$STAGE/sd15"
for d in unet vae text_encoder tokenizer; do cp -r "$SD15/$d" "$STAGE/sd15/"; done
tar -C "$STAGE" -cf - sd15 | xzc >"$PACK/sd15.tar.xz"
echo "$(git rev-parse HEAD) ($(git status --porcelain | wc -l) paths changed) packed $(date -u +%FT%TZ)" >"$PACK/VERSION"

# What travels: tracked files, untracked files git does not ignore, and the pack.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
pack=$(du -sb "$PACK" | cut -f1)
awk -v p="$pack" -v t="$tree" 'BEGIN { m = 1048576; printf "pack %.1f MiB + working tree %.1f MiB = %.1f MiB of 64 MiB\n", p / m, t / m, (p + t) / m }'
if ((pack + tree > LIMIT - 2 * 1024 * 1024)); then
  echo "too large for the device transfer (keep 2 MiB spare): set PASD_DEVICE_CASES to fewer cases" >&2
  exit 1
fi
