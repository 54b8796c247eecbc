#!/usr/bin/env bash
# Builds the web viewer (viewer/, TypeScript + Vite) and points viewer/dist at the build. Both the npm packages and the
# build are cached under $HOME/.cache/radlab/: node_modules keyed by package-lock.json, the build by every source file,
# so only the first run on a machine downloads or builds anything. Prints the build folder on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${RADLAB_CACHE:-$HOME/.cache/radlab}
viewer="$root/viewer"

if ! command -v npm >/dev/null 2>&1; then
  echo "viewer.sh: npm is not on PATH; install Node.js 20 or newer (with npm) to build the web viewer" >&2
  exit 1
fi

modules_key=$( { cat "$viewer/package-lock.json"; node --version; } | sha256sum | cut -c1-16)
modules="$cache/viewer-modules-$modules_key"
if [ ! -f "$modules/.complete" ]; then
  echo "viewer.sh: installing the viewer's npm packages into $modules (first run on this machine)" >&2
  rm -rf "$modules"
  mkdir -p "$modules"
  cp "$viewer/package.json" "$viewer/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --no-audit --no-fund --loglevel=error >&2)
  touch "$modules/.complete"
fi
ln -sfn "$modules/node_modules" "$viewer/node_modules"

build_key=$( { echo "$modules_key"; cd "$viewer" && find index.html tsconfig.json vite.config.ts src -type f | sort | xargs sha256sum; } | sha256sum | cut -c1-16)
build="$cache/viewer-build-$build_key"
if [ ! -f "$build/.complete" ]; then
  echo "viewer.sh: building the viewer into $build" >&2
  tmp=$(mktemp -d "$cache/.viewer-build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$viewer" && npx tsc --noEmit >&2 && npx vite build --logLevel error --outDir "$tmp/dist" --emptyOutDir >&2)
  touch "$tmp/dist/.complete"
  rm -rf "$build"
  mv -T "$tmp/dist" "$build"
fi
ln -sfn "$build" "$viewer/dist"
printf '%s\n' "$build"
