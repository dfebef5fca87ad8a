mod exec;
pub mod fixture;
mod many;
mod nocase;
