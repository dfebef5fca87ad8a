mod exec;
pub mod fixture;
