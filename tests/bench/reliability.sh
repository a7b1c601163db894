#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The reliability benchmark (not a test): every figure of the connection
# core and the durable queue, measured in one run and printed side by side.
#
#   tests/bench/reliability.sh [BUILD_DIR] [--agents N] [--restarts N]
#                              [--outage SECONDS] [--messages N]
#
# Runs, one after the other (never two at once: each measures time or
# CPU), with the same build:
#   tests/bench/fleet.sh     N agents (default 20, SoftHSMv2 tokens): broker
#                            restarts, CPU during an outage, chip fault
#                            cleared -> connected;
#   tests/bench/rotation.sh  rotation duration on the emulated chip at time
#                            scale 1 with a 1 s heartbeat;
#   tests/bench/durable.sh   durable publish rate in fsync and batch mode
#                            against memory mode, 1 and 8 publishers
#                            (TRUSTLINKD_BEFORE: also an older build's
#                            fsync rows, see durable.sh).
# Each prints its own detailed table on the way (stderr notes included);
# the summary table at the end has one line per target. About 5 minutes
# with the defaults. Exits 1 only when a part's setup fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/tests/bench
build=$root/build
fleet_args=()
messages=1000
while [ $# -gt 0 ]; do
    case $1 in
        --agents|--restarts|--outage) fleet_args+=("$1" "$2"); shift 2 ;;
        --messages) messages=$2; shift 2 ;;
        -h|--help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "reliability: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) build=$(cd "$1" && pwd); shift ;;
    esac
done

results=$(mktemp "${TMPDIR:-/tmp}/trustlink-reliability-XXXXXX")
trap 'rm -f "$results"' EXIT
export BENCH_RESULTS=$results

echo "== fleet" >&2
"$bench/fleet.sh" "$build" "${fleet_args[@]}"
echo "== rotation" >&2
"$bench/rotation.sh" "$build"
echo "== durable queue" >&2
TRUSTLINKD=$build/agent/trustlinkd MESSAGES=$messages CLIENTS="1 8" "$bench/durable.sh"

# r KEY: the value a part recorded ("-" when it did not).
r() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); v = $0 } END { print (v == "" ? "-" : v) }' "$results"; }
verdict() {   # verdict VALUE LIMIT: met when VALUE <= LIMIT
    if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a + 0 <= b + 0) }'; then
        echo met
    else
        echo MISSED
    fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else print "-" }'; }

echo
echo "reliability benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
     "load $(cut -d' ' -f1 /proc/loadavg) at the end"
fmt='%-46s %-34s %-16s %s\n'
printf "$fmt" measure result target verdict
printf "$fmt" "fleet of $(r fleet_agents): broker restarts, s to all up" "$(r fleet_restarts)" \
    "<= $(r fleet_target) s each" "$(verdict "$(r fleet_worst)" "$(r fleet_target)")"
printf "$fmt" "  (reconnect settings)" "$(r fleet_settings)" "" ""
printf "$fmt" "agent CPU s during a $(r fleet_outage) s outage" \
    "mean $(r fleet_cpu_mean), max $(r fleet_cpu_max)" "< 0.5 s" \
    "$(verdict "$(r fleet_cpu_max)" 0.499)"
printf "$fmt" "  s from broker up to all connected after it" "$(r fleet_after_outage)" "" ""
printf "$fmt" "s from chip fault cleared to connected" "$(r fleet_chip_recovery)" "<= 5 s" \
    "$(verdict "$(r fleet_chip_recovery)" 5)"
printf "$fmt" "rotation with a 1 s heartbeat, s (rounds)" "$(r rotation_rounds)" "<= 1.5 s each" \
    "$(verdict "$(r rotation_worst)" 1.5)"
for n in 1 8; do
    mem=$(r "durable_after_memory_${n}_rate")
    for mode in memory fsync batch; do
        rate=$(r "durable_after_${mode}_${n}_rate")
        printf "$fmt" "durable publish, $mode, $n publisher(s)" \
            "$rate msg/s ($(ratio "$rate" "$mem") x memory), $(r "durable_after_${mode}_${n}_fsyncs") fsync/msg" \
            "" ""
    done
done
