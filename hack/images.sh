#!/usr/bin/env bash
# The operator, edge (gateway, simulator, consumers) and Spark images, built with podman on a
# Debian base made here from Debian's packages, so that no registry is needed; then loaded into
# a node's containerd.
#
#   hack/images.sh build                        build what is missing; say what was reused
#   hack/images.sh load <containerd-address>    import the images into containerd's k8s.io namespace
#   hack/images.sh tags                         the images as chart values, one key=value a line
#
# Every image is tagged with the hash of its inputs (its Containerfile, the files it copies,
# its bases' tags, its build arguments), so a tag that exists in podman's store is the image
# those inputs make: `build` checks `podman image exists` and builds only what changed. The
# store is the machine's, so a fresh clone on the same machine (CI) reuses everything.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGES_CACHE="$CACHE_DIR/images"
REPO=localhost/sensorpipe
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
# pip inside a build verifies PyPI with the CA bundle the host's pip uses; it is passed as a
# build secret (mounted for that one RUN), never copied into an image.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# The Spark connector and Delta jars, the same folder hack/fetch-jars.sh fills and the tests
# use; inside the build context it keeps its path relative to the repository.
SPARK_JARS_REL=".cache/jars/spark-$SPARK_VERSION-delta-$DELTA_VERSION"
SPARK_JARS_DIR="$CACHE_DIR/jars/spark-$SPARK_VERSION-delta-$DELTA_VERSION"
# Docker's image format, so that SHELL holds as in users' docker builds (the OCI format drops
# it). These flags are inputs of every tag, like the files.
PODMAN_BUILD=(podman build --runtime runc --ulimit nofile=20000:20000 --network host --pull=never
  --format docker)

usage() { die "usage: hack/images.sh build | load <containerd-address> | tags"; }

short_hash() { sha256sum | cut -c1-16; }

# debian_rootfs DIR: the root filesystem of the base image. Its text is part of the base's
# hash, so any change here makes a new base (and so new images on top).
debian_rootfs() {
  [[ $1 == "$IMAGES_CACHE"/* ]] || die "debian_rootfs writes only under $IMAGES_CACHE, not '$1'"
  debootstrap --variant=minbase --components=main "$SUITE" "$1" "$MIRROR"
  cat >"$1/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
  # As Debian's own container images do: no documentation, manuals or translations (the
  # licences stay), and no downloaded package kept once apt has installed it.
  cat >"$1/etc/dpkg/dpkg.cfg.d/excludes" <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  echo 'APT::Keep-Downloaded-Packages "false";' >"$1/etc/apt/apt.conf.d/no-keep-debs"
  find "$1/usr/share/doc" -type f ! -name copyright -delete
  rm -rf "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/*
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb
}

debian_tag() { printf '%s\n' "$SUITE" "$MIRROR" "$(declare -f debian_rootfs)" | short_hash; }

# repo_files PATH...: the files git would commit under PATH (tracked or new, not ignored).
repo_files() {
  local f
  git -C "$ROOT_DIR" ls-files -co --exclude-standard -- "$@" | LC_ALL=C sort -u |
    while read -r f; do [[ -f $ROOT_DIR/$f ]] && printf '%s\n' "$f"; done
}

# Per image: the repository paths its build copies, its Containerfile, and its build arguments
# (other than the bases, which image_args adds).
declare -A PATHS=(
  [operator]="operator/Dockerfile operator/pyproject.toml operator/sensorpipe_operator contract"
  [edge]="edge/Dockerfile edge/pyproject.toml edge/setup.py edge/sensorpipe_edge schemas contract"
  [spark]="spark_apps/Dockerfile spark_apps/pyproject.toml spark_apps/entrypoint.sh spark_apps/sensorpipe_spark schemas contract"
)
IMAGES=(operator edge spark)

# inputs_hash NAME WORD...: hash of the image's files (names and contents) and of WORDs.
inputs_hash() {
  local name=$1; shift
  local files
  # shellcheck disable=SC2086
  mapfile -t files < <(repo_files ${PATHS[$name]})
  {
    (cd "$ROOT_DIR" && sha256sum -- "${files[@]}")
    if [[ $name == spark ]]; then
      [[ -f $SPARK_JARS_DIR/.complete ]] || die "no Spark jars in $SPARK_JARS_DIR: run hack/fetch-jars.sh"
      (cd "$SPARK_JARS_DIR" && sha256sum -- *.jar)
    fi
    printf '%s\n' "${PODMAN_BUILD[*]}" "$@"
  } | short_hash
}

# The base images: a Containerfile under hack/images/ on top of a parent, tagged by both.
base_ref() {
  case $1 in
    debian) echo "$REPO-base-debian:$(debian_tag)" ;;
    python) child_base_ref python debian ;;
    python-build) child_base_ref python-build python ;;
    java) child_base_ref java python ;;
    *) die "no base image $1" ;;
  esac
}

child_base_ref() {  # name parent
  local parent
  parent=$(base_ref "$2")
  local containerfile
  containerfile=$(cat "$HACK_DIR/images/$1.Containerfile")
  echo "$REPO-base-$1:$(printf '%s\n' "$parent" "${PODMAN_BUILD[*]}" "$containerfile" | short_hash)"
}

# image_args NAME: the build arguments of an image, bases included.
image_args() {
  case $1 in
    operator) echo "BASE_IMAGE=$(base_ref python)" ;;
    edge) echo "BUILD_IMAGE=$(base_ref python-build) BASE_IMAGE=$(base_ref python)" ;;
    spark) echo "BUILD_IMAGE=$(base_ref python) BASE_IMAGE=$(base_ref java) SPARK_JARS=$SPARK_JARS_REL" ;;
  esac
}

image_ref() {
  local args
  args=$(image_args "$1")
  # shellcheck disable=SC2086
  echo "$REPO-$1:$(inputs_hash "$1" $args)"
}

# What build did, for its closing summary.
SUMMARY=()
timed() {  # what ref CMD...: run CMD and note how long it took
  local what=$1 ref=$2; shift 2
  local start=$SECONDS
  "$@"
  SUMMARY+=("built  $what $ref in $((SECONDS - start))s")
}

reused() { SUMMARY+=("reused $1 $2"); }

build_debian() {
  local ref archive
  ref=$(base_ref debian)
  podman image exists "$ref" && { reused base-debian "$ref"; return 0; }
  archive="$IMAGES_CACHE/debian-$SUITE-${ref##*:}.tar"
  if [[ -f $archive ]]; then
    timed "base-debian (from $archive)" "$ref" import_rootfs "$archive" "$ref"
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "debootstrap needs root to make the base image's root filesystem"
  timed base-debian "$ref" make_rootfs "$archive" "$ref"
}

make_rootfs() {  # archive ref
  local dir="$IMAGES_CACHE/debian-rootfs.tmp"
  rm -rf "$dir"
  step images-debootstrap debian_rootfs "$dir"
  step images-rootfs-archive tar -C "$dir" --numeric-owner -cf "$1.tmp" .
  mv "$1.tmp" "$1"
  rm -rf "$dir"
  import_rootfs "$@"
}

import_rootfs() {  # archive ref
  # An imported root filesystem has no configuration: give it the PATH every image expects.
  step images-base-import podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' "$1" "$2"
}

build_base() {  # name parent
  local ref parent
  ref=$(base_ref "$1")
  parent=$(base_ref "$2")
  podman image exists "$ref" && { reused "base-$1" "$ref"; return 0; }
  timed "base-$1" "$ref" step "images-base-$1" "${PODMAN_BUILD[@]}" --build-arg "BASE_IMAGE=$parent" \
    -f "$HACK_DIR/images/$1.Containerfile" -t "$ref" "$HACK_DIR/images"
}

# build_image NAME: assemble a context of exactly the image's inputs (the repository's layout,
# no .venv or .git) and build it, unless its tag exists.
build_image() {
  local name=$1 ref args files ctx
  ref=$(image_ref "$name")
  podman image exists "$ref" && { reused "$name" "$ref"; return 0; }
  ctx="$IMAGES_CACHE/context/$name"
  rm -rf "$ctx"; mkdir -p "$ctx"
  # shellcheck disable=SC2086
  mapfile -t files < <(repo_files ${PATHS[$name]})
  (cd "$ROOT_DIR" && cp --parents -- "${files[@]}" "$ctx/")
  if [[ $name == spark ]]; then
    mkdir -p "$ctx/$SPARK_JARS_REL"
    cp -- "$SPARK_JARS_DIR"/*.jar "$ctx/$SPARK_JARS_REL/"
  fi
  local build_args=() a
  for a in $(image_args "$name"); do build_args+=(--build-arg "$a"); done
  local dockerfile=${PATHS[$name]%% *}
  timed "$name" "$ref" step "images-$name" "${PODMAN_BUILD[@]}" "${build_args[@]}" \
    --secret "id=pip-ca,src=$CA_BUNDLE" -f "$ctx/$dockerfile" -t "$ref" "$ctx"
  rm -rf "$ctx"
}

cmd_build() {
  command -v podman >/dev/null || die "podman is missing (hack/setup.sh installs it)"
  mkdir -p "$IMAGES_CACHE"
  exec 9>"$IMAGES_CACHE/.lock"
  flock 9
  build_debian
  build_base python debian
  build_base python-build python
  build_base java python
  local name
  for name in "${IMAGES[@]}"; do build_image "$name"; done
  exec 9>&-
  local line
  for line in "${SUMMARY[@]}"; do log "$line"; done
}

# load ADDRESS: podman save each image once into .cache/images/archives/, and import it into
# the containerd at ADDRESS unless that containerd already has the tag. The build lock is
# released before this: an import into one node does not hold up another checkout's build.
cmd_load() {
  local address=${1:-}
  [[ -n $address ]] || usage
  command -v ctr >/dev/null || die "ctr is missing (Debian's containerd package has it)"
  cmd_build
  local ctr_cmd=(ctr --address "$address" -n k8s.io)
  local present
  present=$("${ctr_cmd[@]}" images ls -q) || die "cannot list the images of containerd at $address"
  mkdir -p "$IMAGES_CACHE/archives"
  local name ref archive
  for name in "${IMAGES[@]}"; do
    ref=$(image_ref "$name")
    if grep -qxF "$ref" <<<"$present"; then
      log "containerd at $address already has $ref"
      continue
    fi
    archive="$IMAGES_CACHE/archives/sensorpipe-$name-${ref##*:}.tar"
    if [[ ! -f $archive ]]; then
      # Unlocked, so loads into several nodes run side by side: each saves to a file of its
      # own and the first to finish puts the archive in place.
      step "images-save-$name" podman save --format docker-archive -o "$archive.$$.tmp" "$ref"
      mv "$archive.$$.tmp" "$archive"
    fi
    step "images-load-$name" "${ctr_cmd[@]}" images import "$archive"
    log "loaded $ref into containerd at $address"
  done
}

cmd_tags() {
  local operator edge
  operator=$(image_ref operator)
  edge=$(image_ref edge)
  echo "image.repository=${operator%:*}"
  echo "image.tag=${operator##*:}"
  echo "childImages.gateway=$edge"
  echo "childImages.consumer=$edge"
  echo "childImages.spark=$(image_ref spark)"
}

case ${1:-} in
  build) cmd_build ;;
  load) cmd_load "${2:-}" ;;
  tags) cmd_tags ;;
  *) usage ;;
esac
