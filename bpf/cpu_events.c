/* ringlab's CPU event tracer: logs, on one CPU, the kernel events that take that CPU away from the
 * task running on it, as the kernel's osnoise tracer counts them: context switches, device
 * interrupts, softirqs, the local APIC's vectors (the timer, IPIs), the functions IPIs run, NMIs, and
 * the execs that rename a task while it runs. A trial runs it on
 * the poller's CPU, and ringlab.hw.kernel.pause_sources names the source of each pause of the poller.
 *
 * Compile-time parameters (set by hw/kernel/tracer.py with -D):
 *   TARGET_CPU     the CPU to watch
 *   LOG_EVENTS     entries of the event log (events past it are counted, not logged)
 *   HAVE_csd       the kernel has the csd tracepoints (the functions that IPIs run)
 *
 * The log is an mmappable array filled in time order through an atomic index; a timestamp is
 * bpf_ktime_get_ns() (CLOCK_MONOTONIC), the clock of the poller and of the XDP program's log.
 */
#include <uapi/linux/bpf.h>

#include "cpu_events.h"

BPF_F_TABLE("array", u32, struct cpu_event, cpu_events, LOG_EVENTS, BPF_F_MMAPABLE);
BPF_ARRAY(cpu_event_count, u64, 1);

static __always_inline struct cpu_event *next_event(u32 kind, u32 number) {
    if (bpf_get_smp_processor_id() != TARGET_CPU)
        return 0;
    u32 zero = 0;
    u64 *count = cpu_event_count.lookup(&zero);
    if (!count)
        return 0;
    u32 index = (u32)__sync_fetch_and_add(count, 1);
    struct cpu_event *event = index < LOG_EVENTS ? cpu_events.lookup(&index) : 0;
    if (event) {
        event->ts_ns = bpf_ktime_get_ns();
        event->kind = kind;
        event->number = number;
    }
    return event;
}

TRACEPOINT_PROBE(sched, sched_switch) {
    struct cpu_event *event = next_event(EVENT_SWITCH, args->next_pid);
    if (event) {
        event->prev_pid = args->prev_pid;
        bpf_probe_read_kernel(&event->comm, sizeof(event->comm), args->next_comm);
        bpf_probe_read_kernel(&event->prev_comm, sizeof(event->prev_comm), args->prev_comm);
    }
    return 0;
}

/* A task that exec'd changes its name while it runs: a switch's next_comm can be stale by the time
 * the task leaves, so the tracer notes the exec and the name it switched out with. */
TRACEPOINT_PROBE(sched, sched_process_exec) {
    struct cpu_event *event = next_event(EVENT_EXEC, args->pid);
    if (event)
        bpf_get_current_comm(&event->comm, sizeof(event->comm));
    return 0;
}

TRACEPOINT_PROBE(irq, irq_handler_entry) {
    next_event(EVENT_IRQ_ENTRY, args->irq);
    return 0;
}

TRACEPOINT_PROBE(irq, irq_handler_exit) {
    next_event(EVENT_IRQ_EXIT, args->irq);
    return 0;
}

TRACEPOINT_PROBE(irq, softirq_entry) {
    next_event(EVENT_SOFTIRQ_ENTRY, args->vec);
    return 0;
}

TRACEPOINT_PROBE(irq, softirq_exit) {
    next_event(EVENT_SOFTIRQ_EXIT, args->vec);
    return 0;
}

TRACEPOINT_PROBE(nmi, nmi_handler) {
    struct cpu_event *event = next_event(EVENT_NMI, 0);
    if (event)
        event->value = args->delta_ns;
    return 0;
}

#ifdef HAVE_csd
/* What an inter-processor interrupt asked this CPU to do (flush its TLB, ...). */
TRACEPOINT_PROBE(csd, csd_function_entry) {
    struct cpu_event *event = next_event(EVENT_FUNCTION_ENTRY, 0);
    if (event)
        event->value = (u64)args->func;
    return 0;
}

TRACEPOINT_PROBE(csd, csd_function_exit) {
    struct cpu_event *event = next_event(EVENT_FUNCTION_EXIT, 0);
    if (event)
        event->value = (u64)args->func;
    return 0;
}
#endif

/* The local APIC's vectors: the timer tick and the inter-processor interrupts. These are plain
 * functions, attached one by one by hw/kernel/tracer.py: the kernel refuses BPF on some of
 * these tracepoints (irq_work_exit here), and a refusal must not stop the others. */
#define VECTOR_PROBES(name, which)                                  \
    int vector_entry_##name(void *ctx) {                            \
        next_event(EVENT_VECTOR_ENTRY, which);                      \
        return 0;                                                   \
    }                                                               \
    int vector_exit_##name(void *ctx) {                             \
        next_event(EVENT_VECTOR_EXIT, which);                       \
        return 0;                                                   \
    }

VECTOR_PROBES(local_timer, VECTOR_LOCAL_TIMER)
VECTOR_PROBES(reschedule, VECTOR_RESCHEDULE)
VECTOR_PROBES(call_function, VECTOR_CALL_FUNCTION)
VECTOR_PROBES(call_function_single, VECTOR_CALL_FUNCTION_SINGLE)
VECTOR_PROBES(irq_work, VECTOR_IRQ_WORK)
VECTOR_PROBES(x86_platform_ipi, VECTOR_PLATFORM_IPI)
VECTOR_PROBES(thermal_apic, VECTOR_THERMAL)
VECTOR_PROBES(spurious_apic, VECTOR_SPURIOUS)
VECTOR_PROBES(error_apic, VECTOR_ERROR)
