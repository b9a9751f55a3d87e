#!/usr/bin/env bash
# Debian packages: Chromium and its WebDriver (the book's PDF, book/print_pdf.py, and the browser test,
# tests/test_browser.py) and Fashion-MNIST (optional, for MultiFashion). Installed where we are root
# with apt; elsewhere a note says what to install.
set -u
wanted=()
command -v chromium >/dev/null && command -v chromedriver >/dev/null || wanted+=(chromium chromium-driver)
[ -d /usr/share/datasets/fashion-mnist ] || wanted+=(dataset-fashion-mnist)
if [ "${#wanted[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${wanted[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${wanted[@]}" >/dev/null) \
    || echo "note: could not install ${wanted[*]}; without chromium the PDF and the browser test fail"
else
  echo "note: not root or no apt-get; install with: sudo apt-get install ${wanted[*]}"
fi
exit 0
