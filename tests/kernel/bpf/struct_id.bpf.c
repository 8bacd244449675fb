// SPDX-License-Identifier: GPL-2.0
/* The module's BTF_ID_LIST must hold the kernel's own ids of task_struct and file (what
 * resolve_btfids writes for a kbuild module: vmlinux types come first). bpf_core_type_id_kernel
 * is the id libbpf finds in the running kernel's BTF. Returns 1, or 2/3 for the first
 * mismatching entry. */
#include "btfx_kfuncs.h"
#include <bpf/bpf_core_read.h>

SEC("syscall")
int check_struct_id(void *ctx)
{
	if (btfx_struct_id(0) != bpf_core_type_id_kernel(struct task_struct))
		return 2;
	if (btfx_struct_id(1) != bpf_core_type_id_kernel(struct file))
		return 3;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
