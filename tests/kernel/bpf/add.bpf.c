// SPDX-License-Identifier: GPL-2.0
/* Scalar arguments: returns 42. */
#include "btfx_kfuncs.h"

SEC("syscall")
int check_add(void *ctx)
{
	return btfx_add(40, 2);
}

char LICENSE[] SEC("license") = "GPL";
