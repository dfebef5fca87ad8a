mod bench_dsr;
mod bench_worker;
mod dsr_batch;
mod dsr_kill;
