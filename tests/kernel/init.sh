#!/bin/busybox sh
# /init of the kernel-suite initramfs (tests/kernel/guest.py): for every case listed in
# /cases/list (in order), insmod /cases/<case>/btfx_kfuncs.ko, run the checks, print one
# line per check and the case's kernel messages, rmmod; then power off.
#
#   BTFX-CHECK case=<case> name=<check> result=pass|fail detail=<rest of the line>
#
# and, for the host to compare with what it built, the kernel's own view of the BTF: the
# sha256 of /sys/kernel/btf/vmlinux (BTFX-VMLINUX), and each loaded module's
# /sys/kernel/btf/<module> in base64 lines (BTFX-B64) closed by its size and sha256
# (BTFX-SYSFS; "not shown" past 64 KiB).
#
# Logs (bpftool/verifier output, dmesg) follow their check as lines starting with "  | ".
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
echo "BTFX-BOOT release=$(uname -r)"

MOD=btfx_kfuncs

check() {  # CASE NAME pass|fail DETAIL...
    c=$1 n=$2 r=$3
    shift 3
    echo "BTFX-CHECK case=$c name=$n result=$r detail=$*"
}

show() {  # FILE: indented, for the host to print on failure (without bpftool's notice
          # about its strict mode, printed on every failed load)
    sed -e '/libbpf strict mode/d' -e '/If it used to work/d' -e 's/^/  | /' "$1"
}

# syscall program: load, run once (syscall programs need `repeat 0`), compare the value.
run_syscall() {  # CASE PROG EXPECTED
    if ! bpftool prog load "/bpf/$2.bpf.o" "/sys/fs/bpf/$2" >/tmp/log 2>&1; then
        check "$1" "$2" fail "load rejected"
        show /tmp/log
        return
    fi
    if ! bpftool prog run pinned "/sys/fs/bpf/$2" repeat 0 >/tmp/log 2>&1; then
        check "$1" "$2" fail "run failed"
        show /tmp/log
    else
        got=$(sed -n 's/^Return value: \([0-9-]*\).*/\1/p' /tmp/log)
        if [ "$got" = "$3" ]; then
            check "$1" "$2" pass "returned $got"
        else
            check "$1" "$2" fail "returned '$got', expected $3"
            show /tmp/log
        fi
    fi
    rm -f "/sys/fs/bpf/$2"
}

# The module's BTF as the kernel shows it, for the host to parse and compare (up to 64 KiB:
# the shift control's copy of kernel types is not worth the console time; a larger one is
# named, so that a positive case cannot pass without its copy).
show_sysfs_btf() {  # CASE FILE
    size=$(wc -c <"$2")
    if [ "$size" -le 65536 ]; then
        base64 "$2" | sed "s/^/BTFX-B64 case=$1 /"
        echo "BTFX-SYSFS case=$1 bytes=$size sha256=$(sha256sum "$2" | cut -d' ' -f1)"
    else
        echo "BTFX-SYSFS case=$1 bytes=$size not shown"
    fi
}

# tracing program: must load (the verifier checks the kfunc's argument types).
load_only() {  # CASE PROG
    if bpftool prog load "/bpf/$2.bpf.o" "/sys/fs/bpf/$2" >/tmp/log 2>&1; then
        check "$1" "$2" pass loaded
    else
        check "$1" "$2" fail "load rejected"
        show /tmp/log
    fi
    rm -f "/sys/fs/bpf/$2"
}

dmesg -c >/dev/null
echo "BTFX-VMLINUX sha256=$(sha256sum /sys/kernel/btf/vmlinux | cut -d' ' -f1)"
while read -r case; do
    [ -n "$case" ] || continue
    echo "BTFX-CASE $case"
    if insmod "/cases/$case/$MOD.ko" >/tmp/log 2>&1; then
        check "$case" insmod pass loaded
        if [ -e "/sys/kernel/btf/$MOD" ]; then
            check "$case" module_btf pass "/sys/kernel/btf/$MOD"
            show_sysfs_btf "$case" "/sys/kernel/btf/$MOD"
        else
            check "$case" module_btf fail "no /sys/kernel/btf/$MOD"
        fi
        run_syscall "$case" add 42
        run_syscall "$case" pair_sum 1234
        run_syscall "$case" struct_id 1
        load_only "$case" task_pid
    else
        check "$case" insmod fail "$(cat /tmp/log)"
        for n in module_btf add pair_sum struct_id task_pid; do
            check "$case" "$n" fail "module not loaded"
        done
    fi
    # Programs are freed asynchronously after their last reference: retry the unload.
    i=0
    while grep -q "^$MOD " /proc/modules && [ $i -lt 50 ]; do
        rmmod "$MOD" 2>/dev/null || sleep 0.1
        i=$((i + 1))
    done
    if grep -q "^$MOD " /proc/modules; then
        check "$case" rmmod fail "module still loaded"
    fi
    dmesg -c | grep -i -E 'btf|kfunc|btfx|module' | sed 's/^/  | dmesg: /'
done </cases/list
echo "BTFX-DONE"
poweroff -f
