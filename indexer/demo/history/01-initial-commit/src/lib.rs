//! roster: a tiny user roster with users, roles and a pluggable store.

