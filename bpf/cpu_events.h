/* The event log of bpf/cpu_events.c: one record per kernel event on the watched CPU.
 * hw/kernel/tracer.py mirrors it as a NumPy dtype (tests/test_wire.py checks the two). */
#ifndef RINGLAB_CPU_EVENTS_H
#define RINGLAB_CPU_EVENTS_H

#include <linux/types.h>

enum event_kind {
    EVENT_SWITCH = 1,        /* number: the next task's pid; prev_pid; comm: the next task's name;
                                prev_comm: the name the task switched out had then */
    EVENT_IRQ_ENTRY = 2,     /* number: the irq */
    EVENT_IRQ_EXIT = 3,
    EVENT_SOFTIRQ_ENTRY = 4, /* number: the softirq vector (TIMER, NET_RX, RCU, ...) */
    EVENT_SOFTIRQ_EXIT = 5,
    EVENT_VECTOR_ENTRY = 6,  /* number: one of enum apic_vector */
    EVENT_VECTOR_EXIT = 7,
    EVENT_NMI = 8,           /* at the handler's end; value: how long it ran (ns) */
    EVENT_FUNCTION_ENTRY = 9, /* a function another CPU asked this one to run (an IPI); value: its address */
    EVENT_FUNCTION_EXIT = 10,
    EVENT_EXEC = 11,         /* the running task exec'd; number: its pid; comm: its new name */
};

enum apic_vector {
    VECTOR_LOCAL_TIMER = 0,
    VECTOR_RESCHEDULE = 1,
    VECTOR_CALL_FUNCTION = 2,
    VECTOR_CALL_FUNCTION_SINGLE = 3,
    VECTOR_IRQ_WORK = 4,
    VECTOR_PLATFORM_IPI = 5,
    VECTOR_THERMAL = 6,
    VECTOR_SPURIOUS = 7,
    VECTOR_ERROR = 8,
};

struct cpu_event {
    __u64 ts_ns;     /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
    __u32 kind;      /* enum event_kind */
    __u32 number;
    __u32 prev_pid;  /* switch: the task switched out */
    __u32 padding;
    __u64 value;     /* NMI: the handler's duration (ns); function: its address */
    char comm[16];   /* switch: the next task's name; exec: the new name */
    char prev_comm[16]; /* switch: the task switched out, by the name it had then */
};

#endif
