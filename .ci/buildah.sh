#!/usr/bin/env bash
# Checks, without a Docker daemon or any registry pull, that
#  1. the static model-release binary runs in an image FROM scratch built by
#     buildah from .ci/Containerfile.ci, and
#  2. the image `model-release push` builds itself (written to an OCI
#     layout) runs, with the entrypoint that serves /model.
# buildah uses vfs storage and chroot isolation in a private temp root, so
# it works as root on a CI machine without overlay or user namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah >/dev/null || { echo "buildah: not installed (apt-get install buildah)" >&2; exit 1; }
# A lowercase path: buildah parses "oci:DIR:tag" as an image name.
work="${TMPDIR:-/tmp}/model-release-buildah-$$"
rm -rf "$work" && mkdir -p "$work"
bh=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
ctrs=()
cleanup() {
  for c in "${ctrs[@]}"; do "${bh[@]}" rm "$c" >/dev/null 2>&1 || true; done
  "${bh[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p "$work/ctx"
if [ -n "${MODEL_RELEASE_CI_BINARY:-}" ]; then
  cp "$MODEL_RELEASE_CI_BINARY" "$work/ctx/model-release" # a static build made earlier
else
  echo "buildah: building a static model-release"
  CGO_ENABLED=0 go build -o "$work/ctx/model-release" ./cmd/model-release
fi
cp .ci/Containerfile.ci "$work/ctx/Containerfile"
# The binary is CGO_ENABLED=0 but dynamically linked (purego dlopens
# OpenBLAS/CUDA at run time), so the image needs the ELF loader and libc:
# copy the ones this machine uses, standing in for a glibc base image.
mkdir -p "$work/ctx/rootfs"
for f in $(ldd "$work/ctx/model-release" | grep -o '/[^ ]*'); do
  mkdir -p "$work/ctx/rootfs$(dirname "$f")"
  cp -L "$f" "$work/ctx/rootfs$f"
done

echo "buildah: 1. Containerfile FROM scratch"
"${bh[@]}" bud --quiet --isolation chroot -f "$work/ctx/Containerfile" -t localhost/model-release-ci:scratch "$work/ctx" >/dev/null
c="$("${bh[@]}" from localhost/model-release-ci:scratch)"; ctrs+=("$c")
out="$("${bh[@]}" run --isolation chroot "$c" -- /usr/local/bin/model-release version)"
echo "  $out"
[[ "$out" == model-release* ]] || { echo "buildah: unexpected version output" >&2; exit 1; }

echo "buildah: 2. the image model-release push builds"
mkdir -p "$work/model"
head -c 65536 /dev/urandom >"$work/model/model.safetensors"
echo '{"architecture":"convnet"}' >"$work/model/model.json"
digest="$("$work/ctx/model-release" push --model "$work/model" --image localhost/model-release-ci \
  --binary "$work/ctx/model-release" --oci-layout "$work/layout" --tag ci --created 1700000000 2>"$work/push.log")" \
  || { cat "$work/push.log" >&2; exit 1; }
echo "  digest $digest"
c="$("${bh[@]}" from --quiet "oci:$work/layout:ci")"; ctrs+=("$c")
out="$("${bh[@]}" run --isolation chroot "$c" -- /usr/local/bin/model-release version)"
echo "  $out"
[[ "$out" == model-release* ]] || { echo "buildah: unexpected version output from the pushed image" >&2; exit 1; }
ep="$("${bh[@]}" inspect --format '{{.OCIv1.Config.Entrypoint}}' "$c")"
[[ "$ep" == "[/usr/local/bin/model-release serve --model /model]" ]] || { echo "buildah: entrypoint is $ep" >&2; exit 1; }
echo "buildah: ok"
