#!/usr/bin/env bash
# On the GPU machine (no Node.js, no network), from the repository root, with
# bench/device/pack carried (made here by bench/device/pack.sh):
#   bash bench/device/run.sh
# 1. unpacks the Vulkan loader packages and points the loader at the NVIDIA driver's ICD;
# 2. unpacks node, onnxruntime-node and the fixture subset into $WORK;
# 3. runs the parity runner on the fixture subset with --provider webgpu (fp32);
# 4. times one SD1.5-scale PASD step (ControlNet + UNet, 64×64 latent, batch 2) with webgpu
#    fp32, webgpu fp16 and cpu (all cores: 16 threads there).
# Everything goes to $OUT: run.log (all output), parity.json (the runner's report),
# parity-summary.txt (worst output per group), bench.jsonl (one line per timed case).
# Each stage has its own time limit (120 + 160 + 120 + 120 s), so the whole run stays under
# ~9 minutes and a hung stage cannot take the others with it.
# Knobs: PASD_DEVICE_PROVIDER (default webgpu) for the parity stage, PASD_DEVICE_STAGES
# (default "parity bench"), PASD_DEVICE_THREADS (default: all cores), PASD_DEVICE_DEB_ROOT (default /: where the loader packages are
# unpacked; elsewhere, LD_LIBRARY_PATH points there, for trying this script on a machine
# that is not to be changed).
set -uo pipefail
cd "$(dirname "$0")/../.."
PACK=bench/device/pack
OUT=${OUT:-/tmp/pasd-device-out}
WORK=${WORK:-/tmp/pasd-device}
PROVIDER=${PASD_DEVICE_PROVIDER:-webgpu}
STAGES=${PASD_DEVICE_STAGES:-parity bench}
THREADS=${PASD_DEVICE_THREADS:-$(nproc)} # 16 on the GPU machine
DEB_ROOT=${PASD_DEVICE_DEB_ROOT:-/}
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
stage() { echo; echo "== $* ($(date -u +%T))"; }

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
# The bundles resolve onnxruntime-node from their own folder: $WORK/node_modules.
cp "$PACK"/*.mjs "$WORK/"
NODE="$WORK/node"
"$NODE" --version || exit 3

if [[ " $STAGES " == *" parity "* ]]; then
  stage "parity, --provider $PROVIDER (fp32), $(grep -c '"file"' "$WORK/fixtures/manifest.json") case files"
  timeout 120 "$NODE" "$WORK/parity.mjs" "$WORK/fixtures" --provider "$PROVIDER" --threads "$THREADS" --json >"$OUT/parity.json"
  echo "parity exit code $?"
  # An empty report: the runner stopped before the first case (its error is in run.log).
  if [ -s "$OUT/parity.json" ]; then "$NODE" "$WORK/summary.mjs" "$OUT/parity.json" | tee "$OUT/parity-summary.txt"; fi
fi

if [[ " $STAGES " == *" bench "* ]]; then
  export PASD_SD15_DIR="$PWD/$PACK/sd15"
  # The first stage also writes the random SD1.5-size weights (~4.8 GB) to the temp folder.
  for run in "160 webgpu fp32" "120 webgpu fp16" "120 cpu fp32"; do
    read -r limit provider precision <<<"$run"
    stage "SD1.5 step, batch 2: $provider $precision, $THREADS threads (limit ${limit}s)"
    timeout "$limit" "$NODE" "$WORK/bench.mjs" --threads "$THREADS" --provider "$provider" --precision "$precision" sd15-step-b2
    echo "bench exit code $?"
  done
  cp "$WORK/results.jsonl" "$OUT/bench.jsonl" 2>/dev/null || echo "no bench results"
fi
stage done
