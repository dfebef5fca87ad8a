mod connector;
pub mod db;
