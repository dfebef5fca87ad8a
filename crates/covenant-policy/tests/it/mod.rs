mod diff;
mod lints;
mod render;
mod seeds;
