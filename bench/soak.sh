#!/usr/bin/env bash
# Kill -9 soak of berthd (tests/src/bin/berth-soak.rs): builds the binaries
# and the busybox test image, then kills and restarts a private berthd under
# concurrent docker CLI clients, checking the crash invariants every round.
# Not part of the test pass; exits 1 when it found violations. Arguments go
# to the soak (--rounds N, --seed S, --check-every K, --max-seconds T).
#
#   bash bench/soak.sh --rounds 10      # needs root, runc and the docker CLI
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --workspace --bins --features berthd/failpoints
mkdir -p target/test-images target/soak
if [ ! -f target/test-images/busybox.tar ]; then
    python3 tests/images/mkbusybox.py target/test-images/busybox.tar.$$ >/dev/null
    mv target/test-images/busybox.tar.$$ target/test-images/busybox.tar
fi
BERTH_BIN_DIR=$PWD/target/debug exec target/debug/berth-soak \
    --save-log target/soak/berthd.log "$@"
