#!/usr/bin/env bash
# Installs the Debian packages pointkit's optional back-ends load at run time:
# open3d (libusb, libgomp) and Blender-as-a-module (X11/GL client libraries, used headless).
# Does nothing when they are all present, so it is cheap to run on every `make`.
set -euo pipefail
packages=(libusb-1.0-0 libgomp1 libxrender1 libxi6 libxkbcommon0 libsm6 libxxf86vm1 libxfixes3 libgl1 libegl1)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "pointkit: please install these system libraries with your package manager: ${missing[*]}" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "pointkit: installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
