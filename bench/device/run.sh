#!/usr/bin/env bash
# On the GPU machine (no Node.js, no network), from the repository root, with
# bench/device/pack carried (made here by bench/device/pack.sh):
#   bash bench/device/run.sh
# 1. unpacks the Vulkan loader packages and points the loader at the NVIDIA driver's ICD;
# 2. unpacks node, onnxruntime-node, the fixture subset and SD1.5's configs into $WORK;
# 3. runs, most important first, each stage under its own time limit and all under one deadline
#    (PASD_DEVICE_DEADLINE seconds from the start, default 560: the device tool's command limit is
#    600), shortening or skipping a stage that would not fit:
#    the one-node MultiHeadAttention repro (docs/repro/webgpu-mha.mjs) · parity --provider webgpu
#    fp32 (the fixture subset) · the SD1.5-scale PASD step (ControlNet +
#    UNet, 64×64 latent, batch 2) webgpu fp32, webgpu fp16 · one whole 512² SD1.5-scale upscale
#    (20 UniPC steps, CFG 9) webgpu fp16 · the step on cpu (all cores) · parity webgpu fp16; and,
#    when named in PASD_DEVICE_STAGES, "fused" (the step with the fused attention, fp32 and fp16)
#    and "attention" (bench/attention-memory.ts: one attention core per lowering).
# Everything goes to $OUT: run.log (all output), parity.json / parity-fp16.json (the runner's
# reports), parity-summary.txt / parity-fp16-summary.txt (worst output per group), bench.jsonl
# (one line per timed case).
# Knobs: PASD_DEVICE_PROVIDER (default webgpu) for the parity stages, PASD_DEVICE_STAGES
# (default "repro parity step32 step16 upscale cpu parity16"), PASD_DEVICE_THREADS (default: all cores),
# PASD_DEVICE_DEB_ROOT (default /: where the loader packages are unpacked; elsewhere,
# LD_LIBRARY_PATH points there, for trying this script on a machine that is not to be changed).
set -uo pipefail
cd "$(dirname "$0")/../.."
PACK=bench/device/pack
OUT=${OUT:-/tmp/pasd-device-out}
WORK=${WORK:-/tmp/pasd-device}
PROVIDER=${PASD_DEVICE_PROVIDER:-webgpu}
STAGES=${PASD_DEVICE_STAGES:-repro parity step32 step16 upscale cpu parity16}
THREADS=${PASD_DEVICE_THREADS:-$(nproc)} # 16 on the GPU machine
DEB_ROOT=${PASD_DEVICE_DEB_ROOT:-/}
DEADLINE=$((SECONDS + ${PASD_DEVICE_DEADLINE:-560}))
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
stage() { echo; echo "== $* ($(date -u +%T), $((DEADLINE - SECONDS)) s left)"; }
# limited LIMIT CMD...: runs CMD under min(LIMIT, time left); skipped when under 20 s are left.
limited() {
  local limit=$1 left=$((DEADLINE - SECONDS - 5)); shift
  ((left < limit)) && limit=$left
  if ((limit < 20)); then echo "skipped: $limit s left before the deadline"; return 124; fi
  timeout "$limit" "$@"
}
wants() { [[ " $STAGES " == *" $1 "* ]]; }
[ -f "$PACK/VERSION" ] || { echo "no $PACK: run bench/device/pack.sh first and carry $PACK"; exit 2; }
stage "pack: $(cat "$PACK/VERSION")"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"

stage "Vulkan loader"
for f in "$PACK"/debs/*.deb; do dpkg -x "$f" "$DEB_ROOT"; done
if [ "$DEB_ROOT" = / ]; then ldconfig; else export LD_LIBRARY_PATH="$DEB_ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    break
  fi
done
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-(none found: the loader searches its default folders)}"
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json

stage "unpacking node, onnxruntime-node, fixtures into $WORK"
unxz() { if command -v xz >/dev/null; then xz -dc; else python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))'; fi; }
unxz <"$PACK/node.xz" >"$WORK/node" && chmod +x "$WORK/node"
unxz <"$PACK/runtime.tar.xz" | tar -C "$WORK" -xf -
unxz <"$PACK/fixtures.tar.xz" | tar -C "$WORK" -xf -
unxz <"$PACK/sd15.tar.xz" | tar -C "$WORK" -xf -
export PASD_SD15_DIR="$WORK/sd15"
# The bundles resolve onnxruntime-node from their own folder: $WORK/node_modules.
cp "$PACK"/*.mjs "$WORK/"
NODE="$WORK/node"
"$NODE" --version || exit 3

parity() { # parity PRECISION REPORT SUMMARY LIMIT
  stage "parity, --provider $PROVIDER $1, $(grep -c '"file"' "$WORK/fixtures/manifest.json") case files"
  limited "$4" "$NODE" "$WORK/parity.mjs" "$WORK/fixtures" --provider "$PROVIDER" --precision "$1" --threads "$THREADS" --json >"$OUT/$2"
  echo "parity exit code $?"
  # An empty report: the runner stopped before the first case (its error is in run.log).
  if [ -s "$OUT/$2" ]; then "$NODE" "$WORK/summary.mjs" "$OUT/$2" | tee "$OUT/$3"; fi
}
step() { # step PROVIDER PRECISION LIMIT
  stage "SD1.5 step, batch 2: $1 $2, $THREADS threads"
  limited "$3" "$NODE" "$WORK/bench.mjs" --threads "$THREADS" --provider "$1" --precision "$2" sd15-step-b2
  echo "bench exit code $?"
}

if wants repro; then
  stage "onnxruntime WebGPU MultiHeadAttention repro (docs/onnxruntime-webgpu-defects.md)"
  cp docs/repro/webgpu-mha.mjs "$WORK/"
  limited 30 "$NODE" "$WORK/webgpu-mha.mjs"
fi
# The first step stage also writes the random SD1.5-size weights (~6.7 GB) to the temp folder.
wants parity && parity fp32 parity.json parity-summary.txt 90
wants step32 && step webgpu fp32 150
wants step16 && step webgpu fp16 90
if wants upscale; then
  stage "whole upscale: 128² ×4 → 512², 20 steps, CFG 9, webgpu fp16"
  limited 200 "$NODE" "$WORK/upscale.mjs" --threads "$THREADS" --provider webgpu --precision fp16 --out 512 --steps 20 --cfg 9
  echo "upscale exit code $?"
fi
wants cpu && step cpu fp32 90
if wants fused; then # the fused MultiHeadAttention instead of the chunked WebGPU lowering (right on some adapters only)
  for precision in fp32 fp16; do
    stage "SD1.5 step, batch 2: webgpu $precision, attention fused"
    limited 120 "$NODE" "$WORK/bench.mjs" --threads "$THREADS" --provider webgpu --precision "$precision" --attention fused sd15-step-b2
    echo "bench exit code $?"
  done
fi
if wants attention; then
  stage "one 64×64-latent attention core per lowering, webgpu fp32"
  limited 90 "$NODE" "$WORK/attention.mjs" --provider webgpu
  echo "attention exit code $?"
fi
wants parity16 && parity fp16 parity-fp16.json parity-fp16-summary.txt 60
cp "$WORK/results.jsonl" "$OUT/bench.jsonl" 2>/dev/null || echo "no bench results"
stage done
