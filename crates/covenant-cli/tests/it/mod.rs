mod bench_dsr;
mod dsr_batch;
mod dsr_kill;
