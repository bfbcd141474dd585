#!/usr/bin/env bash
# The documentation site, built the way CI builds it (.ci/run runs every .ci/checks/*.sh after the tests,
# in the main environment): the pinned tools of docs/requirements.txt are installed into the current Python
# environment (activate the project's venv first; the tutorials run with the project and its test extra
# installed), then docs/site/build.py stages the pages, runs the ten tutorials, builds build/site with
# MkDocs in strict mode (every warning is an error), checks every link and resource of the built pages
# against the folder itself (nothing may come from the internet), and opens the site from disk in Chromium
# when it is installed (search, pages, no console errors).
set -euo pipefail
cd "$(dirname "$0")/../.."

python -m pip install --quiet -r docs/requirements.txt
python docs/site/build.py --browser-check "$@"
