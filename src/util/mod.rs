//! Small helpers with no knowledge of jobs: durations as people write them, instants, error
//! chains, medians, the boot identity. A leaf: it imports nothing of the crate.

pub mod duration;
pub mod errors;
pub mod files;
pub mod host;
pub mod size;
pub mod stats;
pub mod time;

pub use errors::chain;
pub use host::{boot_id, host_name};
pub use time::{system_timezone, to_utc};
