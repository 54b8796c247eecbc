#!/usr/bin/env bash
# Contract code: `scripts/protos.sh generate` rewrites radlab/**/*_pb2*.py from protos/;
# `scripts/protos.sh check` runs buf lint and fails if the committed code differs from a fresh generation.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=.venv/bin/python

generate_into() {
  local out=$1
  mapfile -t files < <(cd protos && find radlab -name '*.proto' | sort)
  "$python" -m grpc_tools.protoc -I protos --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "${files[@]}"
  # Packages for every generated folder, so imports mirror proto packages (radlab.ingestion.v1.events_pb2).
  find "$out/radlab" -mindepth 1 -type d | while read -r dir; do
    package=${dir#"$out/"}
    echo "\"\"\"Generated contract code for ${package//\//.} (make protos); never edit by hand.\"\"\"" > "$dir/__init__.py"
  done
}

generated_files() {
  (cd "$1" && find radlab -mindepth 2 \( -name '*_pb2.py' -o -name '*_pb2.pyi' -o -name '*_pb2_grpc.py' -o -path 'radlab/*/__init__.py' \) | sort)
}

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
generate_into "$fresh"

case ${1:-generate} in
  generate)
    generated_files . | xargs -r rm -f
    cp -r "$fresh/radlab/." radlab/
    echo "generated $(generated_files "$fresh" | wc -l) files under radlab/" >&2
    ;;
  check)
    "$root/.venv/bin/buf" lint protos
    if ! diff -r -q <(generated_files "$fresh") <(generated_files .) >/dev/null ||
       ! (cd "$fresh" && generated_files . | xargs -I{} cmp -s {} "$root/{}"); then
      echo "generated contract code is stale: run 'make protos' and commit the result" >&2
      exit 1
    fi
    echo "protos: buf lint clean, generated code up to date" >&2
    ;;
  *) echo "usage: $0 generate|check" >&2; exit 2 ;;
esac
