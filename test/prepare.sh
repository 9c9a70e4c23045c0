#!/usr/bin/env bash
# Installs what the tests need beyond the .NET SDK, from Debian's packages (PyPI is not reachable here):
# Flask, Django, Pyramid (with PasteDeploy, for --paste) and gunicorn for Debian's /usr/bin/python3; FastAPI, Starlette, uvicorn (the ASGI
# reference, with uvloop, httptools and websockets, as uvicorn runs in production); pyflakes to lint the shipped Python,
# venv for the virtual-environment tests, and clang and zlib1g-dev for the native AOT publish in test/packaging.sh.
# Does nothing when everything is there already.
set -euo pipefail
packages=(python3-flask python3-django python3-pyramid python3-gunicorn python3-fastapi python3-starlette python3-uvicorn python3-uvloop
  python3-httptools python3-websockets python3-pastedeploy python3-pyflakes python3-venv mercurial python3-click python3-rich clang zlib1g-dev curl)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} (Debian packages)..." >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
