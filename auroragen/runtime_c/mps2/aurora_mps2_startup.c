/* aurora_mps2_startup.c - bare-metal start-up for the runner on QEMU's mps2-an386 (Cortex-M4F).
 * Not part of the model's library: `make qemu` links it with the runner and newlib's semihosting
 * (rdimon) I/O. The reset handler enables the FPU, copies .data, zeroes .bss, opens the semihosting
 * file handles, reads argc/argv from the host (SYS_GET_CMDLINE), runs main and exits through
 * semihosting with main's status. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(int argc, char **argv);
extern void initialise_monitor_handles(void);
void aurora_reset(void);

#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void aurora_exit(int status)
{
    uint32_t block[2] = { ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status };
    fflush(NULL);
    for (;;) semihost(SYS_EXIT_EXTENDED, block);
}

static void aurora_fault(void)
{
    aurora_exit(128 + 11); /* any fault: a crash, reported as such */
}

/* The vector table: initial stack pointer, reset, then the exceptions (all faults end the run). */
__attribute__((section(".vectors"), used)) static void (*const aurora_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, aurora_reset, aurora_fault, aurora_fault, aurora_fault,
    aurora_fault, aurora_fault, 0, 0, 0, 0, aurora_fault, aurora_fault, 0, aurora_fault, aurora_fault,
};

static char cmdline[2048];
static char *argv[128];

void aurora_reset(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10 and CP11 full access (the FPU) */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    memcpy(&_sdata, &_sidata, (size_t)((char *)&_edata - (char *)&_sdata));
    memset(&_sbss, 0, (size_t)((char *)&_ebss - (char *)&_sbss));
    initialise_monitor_handles();
    struct {
        char *buf;
        int len;
    } block = { cmdline, (int)sizeof cmdline - 1 };
    int argc = 0;
    if (semihost(SYS_GET_CMDLINE, &block) == 0) {
        for (char *p = cmdline; *p && argc < (int)(sizeof argv / sizeof argv[0]) - 1;) {
            while (*p == ' ') *p++ = '\0';
            if (!*p) break;
            argv[argc++] = p;
            while (*p && *p != ' ') ++p;
        }
    }
    argv[argc] = NULL;
    aurora_exit(main(argc, argv));
}
