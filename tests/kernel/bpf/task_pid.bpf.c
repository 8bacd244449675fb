// SPDX-License-Identifier: GPL-2.0
/* Passes the kernel's task_struct pointer (a tp_btf argument) to a module kfunc: the
 * verifier accepts it only if the kfunc's parameter is vmlinux's task_struct
 * (btf_struct_ids_match), not a copy in the module's BTF. Must load. */
#include "btfx_kfuncs.h"
#include <bpf/bpf_tracing.h>

__s32 last_pid;

SEC("tp_btf/task_newtask")
int BPF_PROG(check_task_pid, struct task_struct *task, __u64 clone_flags)
{
	last_pid = btfx_task_pid(task);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
