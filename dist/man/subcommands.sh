#!/bin/sh
# subcommands.sh PROGRAM: a help2man include section with the --help of
# every subcommand PROGRAM --help lists, so lb4ctl(8) documents each
# subcommand's options straight from the binary.
set -eu
prog=$1
echo "[SUBCOMMANDS]"
"$prog" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' |
while read -r sub; do
  echo ".SS $sub"
  echo ".nf"
  "$prog" "$sub" --help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
  echo ".fi"
done
