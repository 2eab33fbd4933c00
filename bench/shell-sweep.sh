#!/bin/sh
# The usual shell way: a loop that starts a new process per failure point (bench/step.c), as
# failcmd.sh-style scripts do. Sweeps HARNESS SWEEPS times; prints one JSON line.
#   shell-sweep.sh STEP-PROGRAM HARNESS SWEEPS
step=$1 harness=$2 sweeps=$3
start=$(date +%s%N)
steps=0 i=0 first=0
while [ "$i" -lt "$sweeps" ]; do
	n=1
	while :; do
		steps=$((steps + 1))
		"$step" "$harness" "$n"
		rc=$?
		[ "$rc" -eq 0 ] || break
		n=$((n + 1))
	done
	[ "$rc" -eq 1 ] || { echo "shell-sweep: $step $harness $n failed ($rc)" >&2; exit 1; }
	[ "$i" -gt 0 ] || first=$n
	i=$((i + 1))
done
end=$(date +%s%N)
echo "{\"harness\":\"$harness\",\"sweeps\":$sweeps,\"steps\":$steps,\"ns\":$((end - start)),\"firstSweepSteps\":$first}"
