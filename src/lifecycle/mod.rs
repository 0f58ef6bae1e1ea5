//! The lifecycle of one database: stages, the transition table and its guards. Pure code.

pub mod facts;
pub mod guard;
pub mod job;
pub mod stage;
pub mod transition;
pub mod trigger;

pub use guard::{Guard, GuardContext, GuardKind};
pub use job::JobPhase;
pub use stage::Stage;
pub use transition::{
    available, check, check_wave_action, decide, guards, guards_for_wave, members_waiting,
    wave_action_guards, wave_member_trigger, Position, Rejection,
};
pub use trigger::Trigger;
