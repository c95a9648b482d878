//! Plain data: what was asked (jobs, their schedules and actions, alert rules, channels,
//! reports) and what happened (run outcomes). The leaf every other module builds on: it imports
//! nothing of the crate but `util`, and holds no behaviour beyond describing itself. Config
//! builds these types; the other modules act on them.

pub mod action;
pub mod alert;
pub mod notice;
pub mod quiet;
pub mod report;
pub mod run;
pub mod schedule;
#[doc(hidden)]
pub mod scripted;
pub mod spec;

pub use action::*;
pub use alert::*;
pub use notice::*;
pub use quiet::*;
pub use report::*;
pub use run::*;
pub use schedule::*;
pub use spec::*;
