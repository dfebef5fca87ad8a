mod dataset;
mod diff;
mod lints;
mod render;
mod ropa;
mod seeds;
