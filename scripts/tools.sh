#!/usr/bin/env bash
# Pinned developer tools for Radlab, built once and cached under $HOME/.cache/radlab/tools/<tool>-<version>/.
#
# Usage: scripts/tools.sh TOOL   prints the path of TOOL's binary on stdout (installing it if missing);
#                                progress and errors go to stderr, so `helm="$(scripts/tools.sh helm)"` works.
# Tools: helm, dcm2niix, dciodvfy, plastimatch, tesseract, storescp, chromium
# helm needs Go 1.26+ (helm v3.22.0's go.mod) and, on a cold cache, the Go module proxy.
# dcm2niix, dciodvfy, plastimatch, tesseract, storescp and chromium are the distribution's packages (Debian: dcm2niix,
# dicom3tools, plastimatch, tesseract-ocr, dcmtk, chromium), apt-get installed when missing (as root).
# RADLAB_TOOLS_DIR (or RADLAB_CACHE, for the whole cache) moves it elsewhere.
set -euo pipefail

# The newest Helm 3 release checked to build with `go install` on Go 1.26 (and to lint and render
# this chart). The cache folder is keyed by it, so bumping it rebuilds; after changing only the
# build flags below, delete the cached folder instead.
HELM_VERSION="v3.22.0"
# The Kubernetes minor version Helm assumes when no cluster is asked (helm template, helm lint, and
# a chart's kubeVersion check). Helm's Makefile derives it from the k8s.io/client-go in its go.mod
# (v0.37.0 for v3.22.0 gives 1.37); a bare `go install` would leave it at Helm's fallback, 1.20.
HELM_K8S_MINOR="37"

TOOLS_DIR="${RADLAB_TOOLS_DIR:-${RADLAB_CACHE:-${HOME}/.cache/radlab}/tools}"

log() { printf 'tools.sh: %s\n' "$*" >&2; }

# go_install MODULE_PATH VERSION NAME [LDFLAGS]: build NAME with `go install` into a temp dir beside
# the cache entry, then rename it into place, so an interrupted build never leaves a half-written
# binary cached.
go_install() {
  local module="$1" version="$2" name="$3" ldflags="${4:-}"
  local dest="${TOOLS_DIR}/${name}-${version}"
  if [[ -x "${dest}/${name}" ]]; then
    printf '%s\n' "${dest}/${name}"
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "cannot build ${name} ${version}: the go command is not on PATH; install Go 1.26 or newer"
    return 1
  fi
  mkdir -p "${TOOLS_DIR}"
  local tmp
  tmp="$(mktemp -d "${TOOLS_DIR}/.${name}-${version}.XXXXXX")"
  # shellcheck disable=SC2064  # expand now: tmp is local and gone when the trap fires
  trap "rm -rf '${tmp}'" EXIT
  log "building ${name} ${version} from ${module}@${version} (several minutes on a small machine)..."
  local started=${SECONDS}
  if ! GOBIN="${tmp}/bin" go install -ldflags "${ldflags}" "${module}@${version}" >&2; then
    log "go install ${module}@${version} failed; see the go output above"
    return 1
  fi
  mkdir -p "${tmp}/out"
  mv "${tmp}/bin/${name}" "${tmp}/out/${name}"
  # Another run may have finished first; its binary is as good as ours.
  if ! mv -T "${tmp}/out" "${dest}" 2>/dev/null && [[ ! -x "${dest}/${name}" ]]; then
    log "could not move the built ${name} into ${dest}"
    return 1
  fi
  log "built ${name} ${version} in $((SECONDS - started))s: ${dest}/${name}"
  printf '%s\n' "${dest}/${name}"
}

helm() {
  # The same -X settings Helm's Makefile passes: the version `helm version` reports, and the
  # Kubernetes version for rendering without a cluster.
  local ldflags=(
    "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
    "-X helm.sh/helm/v3/internal/version.metadata="
    "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
    "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${HELM_K8S_MINOR}"
    "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
    "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${HELM_K8S_MINOR}"
  )
  go_install helm.sh/helm/v3/cmd/helm "${HELM_VERSION}" helm "${ldflags[*]}"
}

# apt_tool BINARY PACKAGE: BINARY from the distribution's PACKAGE rather than a pinned build, apt-get
# installed when missing, which needs root; otherwise the message says what to install.
#   dcm2niix (package dcm2niix), the reference DICOM→NIfTI converter volume tests compare against
#     (Debian 12 ships 1.0.20220720);
#   dciodvfy (package dicom3tools), David Clunie's IOD validator the de-identification outputs are checked with;
#   plastimatch (package plastimatch), the RT toolkit whose RTSTRUCT → mask conversion label exports are checked with
#     (Debian 12 ships 1.9.4);
#   tesseract (package tesseract-ocr, which pulls its English model), the OCR the anonymization service reads
#     text burned into the pixels with (Debian 12 ships 5.3.0);
#   storescp (package dcmtk), the C-STORE receiver bench/pacs.py measures Radlab's SCP against;
#   chromium (package chromium), the headless browser the web viewer's tests drive (a browser a test tool would
#     download itself cannot be fetched here).
apt_tool() {
  local binary="$1" package="$2" found
  # type -P: the binary on PATH, never a shell function's name.
  if found="$(type -P "${binary}")"; then
    printf '%s\n' "${found}"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log "${binary} is not on PATH and there is no apt-get here; install ${package} with your package manager"
    return 1
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    log "${binary} is not on PATH; install it as root: apt-get install ${package}"
    return 1
  fi
  log "installing ${package} with apt-get..."
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${package}" >&2 \
         || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${package}" >&2; }; }; then
    log "apt-get install ${package} failed; see the apt-get output above"
    return 1
  fi
  type -P "${binary}"
}

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
  if [[ $# -ne 1 ]]; then
    usage
    return 2
  fi
  case "$1" in
    helm) helm ;;
    dcm2niix) apt_tool dcm2niix dcm2niix ;;
    dciodvfy) apt_tool dciodvfy dicom3tools ;;
    plastimatch) apt_tool plastimatch plastimatch ;;
    tesseract) apt_tool tesseract tesseract-ocr ;;
    storescp) apt_tool storescp dcmtk ;;
    chromium) apt_tool chromium chromium ;;
    -h|--help) usage ;;
    *)
      log "unknown tool '$1'"
      usage
      return 2
      ;;
  esac
}

main "$@"
