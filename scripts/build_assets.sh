#!/usr/bin/env bash
# Front-end libraries, bundled at build time from the npm registry (package.json, pinned in package-lock.json):
# npm ci, then the files the pages load are copied into static/vendor/ (not committed; collectstatic picks them up).
# Nothing is loaded from a CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --loglevel=error
mkdir -p static/vendor/echarts
cp node_modules/echarts/dist/echarts.min.js static/vendor/echarts/echarts.min.js
cp node_modules/echarts/LICENSE static/vendor/echarts/LICENSE
echo "assets: static/vendor/echarts/echarts.min.js ($(node -p 'require("./node_modules/echarts/package.json").version'))"
