mod dsr_batch;
mod dsr_kill;
