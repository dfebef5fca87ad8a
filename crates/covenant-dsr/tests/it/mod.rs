mod exec;
pub mod fixture;
mod nocase;
