// SPDX-License-Identifier: GPL-2.0
/* A pointer to a module-defined, scalar-only struct on the BPF stack (the verifier sizes it
 * from the module's BTF): returns 1234. */
#include "btfx_kfuncs.h"

SEC("syscall")
int check_pair_sum(void *ctx)
{
	struct btfx_pair pair = { .a = 1000, .b = 234 };

	return btfx_pair_sum(&pair);
}

char LICENSE[] SEC("license") = "GPL";
