//! Reading a live database's schema (tables, columns, types, keys) to draft dataset annotations.
