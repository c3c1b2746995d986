//! fazt-chaos: the failpoint catalog, seeded fault schedules and invariant checkers.
//!
//! Thin for now: the catalog, schedules and checkers arrive with the chaos issue. The
//! crate exists so that the dependency direction `sim → chaos → engine` is fixed from
//! the start.
