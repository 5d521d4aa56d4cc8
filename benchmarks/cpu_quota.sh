#!/usr/bin/env bash
# Runs a command in a new control group limited to CPUS CPUs' worth of time — what
# `docker run --cpus=CPUS` and a Kubernetes CPU limit set — and removes the group afterwards:
# how chrysalis's default thread count behaves in such a container (docs/performance.md, "Under
# a CPU quota"). Not a test: it only sets up the limit. Needs root and a cgroup file system with
# the cpu controller: v2 at /sys/fs/cgroup, or a v1 cpu hierarchy.
#
#   benchmarks/cpu_quota.sh 1 build/release/benchmarks/network_bench \
#       --benchmark_filter='teacher_train_step|student_inference/batch:1/'
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 CPUS COMMAND [ARGUMENTS…]   (CPUS: a limit such as 1 or 1.5)" >&2
    exit 2
fi
cpus=$1
shift
if ! [[ $cpus =~ ^[0-9]+(\.[0-9]+)?$ ]] || awk -v c="$cpus" 'BEGIN { exit !(c < 0.01) }'; then
    echo "$0: CPUS must be a number of CPUs of at least 0.01, such as 1 or 1.5; got '$cpus'" >&2
    exit 2
fi
period=100000
quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN { printf "%d", c * p + 0.5 }')

if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers
then
    root=/sys/fs/cgroup
    # The root's children get the cpu controller only where the root hands it down.
    grep -qw cpu "$root/cgroup.subtree_control" || echo +cpu >"$root/cgroup.subtree_control"
    version=2
else
    root=""
    for dir in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
        if [[ -f $dir/cpu.cfs_quota_us ]]; then
            root=$dir
            break
        fi
    done
    if [[ -z $root ]]; then
        echo "$0: no cgroup file system with the cpu controller found under /sys/fs/cgroup" >&2
        exit 1
    fi
    version=1
fi

group=$root/chrysalis-quota-$$
mkdir "$group"
trap 'rmdir "$group" 2>/dev/null || true' EXIT
if [[ $version == 2 ]]; then
    echo "$quota $period" >"$group/cpu.max"
else
    echo "$period" >"$group/cpu.cfs_period_us"
    echo "$quota" >"$group/cpu.cfs_quota_us"
fi
echo "cpu_quota.sh: $cpus CPUs ($quota µs per $period µs, cgroup v$version, $group)" >&2
# The command runs in a child shell that joins the group first, so that the group is empty again
# (and can be removed) when it ends.
set +e
bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$group" "$@"
status=$?
exit $status
