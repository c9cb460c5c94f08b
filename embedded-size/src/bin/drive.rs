//! Firmware for thumbv7em-none-eabihf that runs [`embedded_size::drive`]: its `.text` is
//! what that program costs (see README.md).

#![no_std]
#![no_main]
#![forbid(unsafe_code)]
// `loop {}` rather than `spin_loop()`: what a halted firmware does, and the sizes in
// README.md were measured with it (a `spin_loop` changes the layout by ~200 B).
#![allow(clippy::empty_loop)]

use cortex_m_rt::entry;

/// 64 KiB of heap on a static array (first fit, frees; no `unsafe` to declare it).
#[global_allocator]
static HEAP: emballoc::Allocator<65536> = emballoc::Allocator::new();

#[entry]
fn main() -> ! {
    core::hint::black_box(embedded_size::drive());
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
