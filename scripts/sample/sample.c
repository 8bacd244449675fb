/* Source of python/btfx/data/sample.btf, the BTF btfx falls back to when the machine
 * has no /sys/kernel/btf/vmlinux. Built by scripts/make-sample-btf.sh with gcc -g and
 * pahole -J. It covers most BTF kinds. */
#include <stdint.h>

typedef unsigned long long u64;
typedef int32_t s32;

enum color { RED, GREEN = 5, BLUE = -1 };
enum big { HUGE = 0xffffffff00000000ULL };

struct list_head {
	struct list_head *next, *prev;
};

union value {
	u64 u;
	s32 i;
	double d;
	char bytes[8];
};

struct opaque;

struct task {
	const char *volatile name;
	struct list_head node;
	unsigned int flags : 3;
	unsigned int state : 5;
	enum color color;
	union value values[4];
	struct opaque *priv;
	float load;
	long double precise;
	_Bool on_cpu;
	int (*callback)(struct task *t, ...);
};

int counter;
static struct task init_task;

int task_run(struct task *restrict t, const u64 budget)
{
	counter += (int)budget + t->flags;
	return t->callback ? t->callback(t, 1) : 0;
}

struct task *task_init(void)
{
	enum big b = HUGE;
	init_task.values[0].u = b;
	return &init_task;
}
