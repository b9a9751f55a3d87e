#!/usr/bin/env bash
# Optional Debian packages: Fashion-MNIST (for MultiFashion). Skipped with a note where apt is
# unavailable or we are not root; nothing in the default pipeline requires them.
set -u
if [ -d /usr/share/datasets/fashion-mnist ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian package dataset-fashion-mnist (MultiFashion)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
    || echo "note: could not install dataset-fashion-mnist; MultiFashion will be unavailable"
else
  echo "note: Fashion-MNIST not found; 'sudo apt-get install dataset-fashion-mnist' enables MultiFashion"
fi
exit 0
