/* SPDX-License-Identifier: GPL-2.0 */
/* The fixture module's kfuncs (tests/fixtures/kfunc_module/btfx_kfuncs.c) as BPF externs:
 * libbpf resolves them by name in the module's BTF (/sys/kernel/btf/btfx_kfuncs). */
#ifndef BTFX_KFUNCS_H
#define BTFX_KFUNCS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* Module-defined: not in vmlinux.h. */
struct btfx_pair {
	__u64 a;
	__u64 b;
};

extern __u64 btfx_add(__u64 a, __u64 b) __ksym;
extern __u64 btfx_pair_sum(struct btfx_pair *pair) __ksym;
extern __s32 btfx_task_pid(struct task_struct *task) __ksym;
extern __u32 btfx_struct_id(__u32 index) __ksym;

#endif
