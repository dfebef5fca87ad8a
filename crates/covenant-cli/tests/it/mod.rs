mod dsr_kill;
